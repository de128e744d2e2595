// The operator's flags as commander hands them over (strings, env defaults already applied),
// checked and typed by one zod schema. Pure: operator.ts prints the errors and exits 2.
import { isIP } from 'node:net';
import { z } from 'zod';

/** A flag's raw value: commander's string, or unset. An empty string (a blank env var) is unset. */
const text = z
  .string()
  .optional()
  .transform((v) => (v === '' ? undefined : v));
const or = <T>(flag: z.ZodType<T | undefined>, fallback: T) => flag.transform((v) => v ?? fallback);

function numberFlag(what: string, pattern: RegExp, ok: (n: number) => boolean) {
  return text.transform((v, ctx) => {
    if (v === undefined) return undefined;
    const n = Number(v);
    if (pattern.test(v) && ok(n)) return n;
    ctx.addIssue({ code: 'custom', message: `must be ${what}, got ${JSON.stringify(v)}` });
    return z.NEVER;
  });
}
// Plain decimals only: Number() would also take "0x10", "1e3" and " 5 ".
const positiveNumber = numberFlag('a positive number', /^\d+(\.\d+)?$/, (n) => n > 0);
const positiveInt = numberFlag('a positive integer', /^\d+$/, (n) => n > 0);
const seconds = numberFlag('a number of seconds (0 = off)', /^\d+(\.\d+)?$/, () => true);
const port = numberFlag('a port (0..65535)', /^\d+$/, (n) => n <= 65535);

const bool = text.transform((v, ctx) => {
  if (v === undefined) return undefined;
  if (v === 'true' || v === 'false') return v === 'true';
  ctx.addIssue({ code: 'custom', message: `must be true or false, got ${JSON.stringify(v)}` });
  return z.NEVER;
});

const url = text.refine((v) => v === undefined || /^https?:$/.test(URL.parse(v)?.protocol ?? ''), {
  error: (issue) => `must be an http(s) URL, got ${JSON.stringify(issue.input)}`,
});

/** `k=v,k2=v2` → labels. */
const labels = text.transform((v, ctx) => {
  if (v === undefined) return undefined;
  const pairs = v.split(',').map((kv) => kv.split('=').map((x) => x.trim()));
  if (pairs.every((p) => p.length === 2 && p[0] && p[1]))
    return Object.fromEntries(pairs) as Record<string, string>;
  ctx.addIssue({ code: 'custom', message: `must be labels k=v,k2=v2, got ${JSON.stringify(v)}` });
  return z.NEVER;
});

/** Comma-separated IP addresses or CIDRs (a bare address is kept as given). */
const cidrs = text.transform((v, ctx) => {
  const items = (v ?? '')
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean);
  const bad = items.filter((x) => {
    const [ip = '', bits, ...rest] = x.split('/');
    const family = isIP(ip);
    if (!family || rest.length) return true;
    if (bits === undefined) return false;
    return !/^\d+$/.test(bits) || Number(bits) > (family === 6 ? 128 : 32);
  });
  if (!bad.length) return items;
  ctx.addIssue({
    code: 'custom',
    message: `must be IP addresses or CIDRs, got ${JSON.stringify(bad.join(','))}`,
  });
  return z.NEVER;
});

/**
 * Keys are commander's camelCase option names; defaults are the documented ones. Strict: an
 * option operator.ts declares but this schema lacks is an error, not a value dropped unseen.
 */
export const OperatorFlags = z
  .strictObject({
    kubeconfig: text,
    namespace: text,
    leaderElect: or(bool, true),
    leaderElectionId: or(text, 'scaleswe-operator'),
    leaderElectionNamespace: text,
    leaseDuration: or(positiveNumber, 15),
    renewDeadline: positiveNumber,
    retryPeriod: or(positiveNumber, 2),
    metricsPort: or(port, 8080),
    instanceWorkers: or(positiveInt, 8),
    runWorkers: or(positiveInt, 2),
    qps: or(positiveNumber, 50),
    burst: or(positiveInt, 100),
    resync: or(positiveNumber, 300),
    gitCacheDir: text,
    identity: text,
    gatewayUrl: url,
    gatewayService: text,
    gatewaySecretFile: text,
    gatewayPort: or(port, 8081),
    gatewayPodSelector: labels,
    sandboxDenyCidrs: cidrs,
    environmentRegistry: text,
    environmentPushSecret: text,
    environmentPullSecret: text,
    environmentPlainHttp: or(bool, false),
    storeEndpoint: url,
    storeBucket: text,
    storeRegion: text,
    storePrefix: text,
    storeForcePathStyle: or(bool, true),
    storeSweepInterval: or(seconds, 3600),
  })
  // client-go's default ratio: a leader renews within 2/3 of the lease.
  .transform((f) => ({
    ...f,
    renewDeadline: f.renewDeadline ?? Math.max(1, Math.floor(f.leaseDuration * (2 / 3))),
  }));
export type OperatorFlags = z.output<typeof OperatorFlags>;

/** `leaderElectionId` → `--leader-election-id`, as commander names it. */
export const flagName = (key: PropertyKey) =>
  `--${String(key).replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;

export function parseOperatorFlags(
  values: Record<string, unknown>,
): { success: true; flags: OperatorFlags } | { success: false; errors: string[] } {
  const parsed = OperatorFlags.safeParse(values);
  if (parsed.success) return { success: true, flags: parsed.data };
  return {
    success: false,
    errors: parsed.error.issues.map((i) =>
      i.code === 'unrecognized_keys'
        ? `${i.keys.map(flagName).join(', ')}: not in the OperatorFlags schema`
        : `${flagName(i.path[0] ?? '')}: ${i.message}`,
    ),
  };
}
