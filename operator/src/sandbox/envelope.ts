import { gunzipSync, gzipSync } from 'node:zlib';
import { formatIssues, type InfraFailureReason, StageResult, type StageResultArg } from '../api/index.ts';

/**
 * The result envelope: how a sandbox pod hands its StageResult back without any
 * credentials. The runner prints it as the last thing in its log (full result, any size)
 * and writes it to the termination message when it fits in 4 KiB (small results, and the
 * only channel when no kubelet serves pods/log).
 */
export const ENVELOPE_BEGIN = '-----BEGIN SCALESWE STAGE RESULT-----';
export const ENVELOPE_END = '-----END SCALESWE STAGE RESULT-----';
const LINE = 76;

export function encodeResultEnvelope(result: StageResultArg): string {
  const body = gzipSync(Buffer.from(JSON.stringify(result)), { level: 9 }).toString('base64');
  const lines: string[] = [];
  for (let i = 0; i < body.length; i += LINE) lines.push(body.slice(i, i + LINE));
  return `${ENVELOPE_BEGIN}\n${lines.join('\n')}\n${ENVELOPE_END}\n`;
}

export type DecodeFailureReason = Extract<InfraFailureReason, 'ResultMissing' | 'ResultCorrupt'>;
export type DecodedStageResult =
  | { ok: true; result: StageResult }
  | { ok: false; reason: DecodeFailureReason; message: string };

type Extracted = { found: false } | { found: true; body: string } | { found: true; truncated: true };

/** The LAST envelope in the text wins: agent output earlier in the log cannot spoof it. */
function extract(text: string | undefined): Extracted {
  if (!text) return { found: false };
  const begin = text.lastIndexOf(ENVELOPE_BEGIN);
  if (begin < 0) return { found: false };
  const end = text.indexOf(ENVELOPE_END, begin);
  if (end < 0) return { found: true, truncated: true };
  return { found: true, body: text.slice(begin + ENVELOPE_BEGIN.length, end).replace(/\s+/g, '') };
}

function decodeBody(body: string): DecodedStageResult {
  let json: unknown;
  try {
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(body)) throw new Error('not base64');
    json = JSON.parse(gunzipSync(Buffer.from(body, 'base64')).toString('utf8'));
  } catch (err) {
    return {
      ok: false,
      reason: 'ResultCorrupt',
      message: `envelope does not decode: ${(err as Error).message}`,
    };
  }
  const parsed = StageResult.safeParse(json);
  if (!parsed.success) {
    return {
      ok: false,
      reason: 'ResultCorrupt',
      message: `envelope is not a StageResult: ${formatIssues(parsed.error.issues).slice(0, 5).join('; ')}`,
    };
  }
  return { ok: true, result: parsed.data };
}

/**
 * Reads the stage result from the pod's log, falling back to its termination message.
 * Never throws: a missing or damaged result is a (retryable) stage failure.
 */
export function decodeStageResult(input: { log?: string; terminationMessage?: string }): DecodedStageResult {
  const fromLog = extract(input.log);
  if (fromLog.found && 'body' in fromLog) {
    const decoded = decodeBody(fromLog.body);
    if (decoded.ok) return decoded;
    const fromTermination = extract(input.terminationMessage);
    return fromTermination.found && 'body' in fromTermination ? decodeBody(fromTermination.body) : decoded;
  }
  const fromTermination = extract(input.terminationMessage);
  if (fromTermination.found && 'body' in fromTermination) return decodeBody(fromTermination.body);
  if (fromLog.found || fromTermination.found)
    return { ok: false, reason: 'ResultCorrupt', message: 'result envelope is truncated (no end marker)' };
  return {
    ok: false,
    reason: 'ResultMissing',
    message: 'the stage pod exited without printing a result envelope',
  };
}
