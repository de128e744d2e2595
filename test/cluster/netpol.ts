// NetworkPolicy enforcement for the node-mode test cluster (IPv4, iptables filter table).
//
//   node test/cluster/netpol.ts --kubeconfig K [--interval-ms 1000]
//
// kube-router, Calico and kube-network-policies cannot be fetched here (the Go module proxy
// refuses them), so this small controller does the same job: it lists pods, namespaces and
// NetworkPolicies every interval, renders one iptables ruleset and applies it atomically
// when it changed. Layout (kube-router-like): INPUT and FORWARD jump to SSWE-NP-IN/-FWD;
// established traffic passes; a packet from a pod isolated for egress goes through that
// pod's egress chain, a packet to a pod isolated for ingress through its ingress chain (only
// FORWARD: traffic from the node itself is always allowed, as the NetworkPolicy spec says).
// A chain sets MARK 0x10000 when a rule allows the packet and REJECTs it otherwise.
// Not supported: IPv6, named ports in egress rules, SCTP (such rules match nothing).

import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  CoreV1Api,
  KubeConfig,
  NetworkingV1Api,
  type V1LabelSelector,
  type V1Namespace,
  type V1NetworkPolicy,
  type V1NetworkPolicyPeer,
  type V1NetworkPolicyPort,
  type V1Pod,
} from '@kubernetes/client-node';
import { Command } from 'commander';

export const CHAIN_PREFIX = 'SSWE-NP-';
const HOOKS = [
  ['INPUT', `${CHAIN_PREFIX}IN`],
  ['FORWARD', `${CHAIN_PREFIX}FWD`],
] as const;
const MARK = '0x10000/0x10000';

export function selectorMatches(
  sel: V1LabelSelector | undefined,
  labels: Record<string, string> = {},
): boolean {
  if (!sel) return false;
  for (const [k, v] of Object.entries(sel.matchLabels ?? {})) if (labels[k] !== v) return false;
  for (const e of sel.matchExpressions ?? []) {
    const has = e.key in labels;
    const inValues = has && (e.values ?? []).includes(labels[e.key] ?? '');
    const ok =
      e.operator === 'In'
        ? inValues
        : e.operator === 'NotIn'
          ? !inValues
          : e.operator === 'Exists'
            ? has
            : e.operator === 'DoesNotExist'
              ? !has
              : false;
    if (!ok) return false;
  }
  return true;
}

interface World {
  pods: V1Pod[];
  namespaces: V1Namespace[];
  policies: V1NetworkPolicy[];
}

function hash(s: string): string {
  return createHash('sha256').update(s).digest('hex').slice(0, 12).toUpperCase();
}

/** Pods that have an IPv4 pod-network address (not hostNetwork, not finished). */
function networkedPods(w: World): V1Pod[] {
  return w.pods.filter(
    (p) =>
      !p.spec?.hostNetwork &&
      p.status?.podIP &&
      !p.status.podIP.includes(':') &&
      p.status.phase !== 'Succeeded' &&
      p.status.phase !== 'Failed',
  );
}

/** The addresses one peer stands for (pod IPs, or an ipBlock with its exceptions). */
function peerMatches(
  w: World,
  policyNs: string,
  peer: V1NetworkPolicyPeer,
): { addrs: string[]; except?: string[] } {
  if (peer.ipBlock) {
    if (peer.ipBlock.cidr.includes(':')) return { addrs: [] };
    return { addrs: [peer.ipBlock.cidr], except: peer.ipBlock.except?.filter((c) => !c.includes(':')) };
  }
  const nsLabels = new Map(w.namespaces.map((n) => [n.metadata?.name ?? '', n.metadata?.labels ?? {}]));
  const ips = networkedPods(w)
    .filter((p) => {
      const ns = p.metadata?.namespace ?? '';
      const nsOk = peer.namespaceSelector
        ? selectorMatches(peer.namespaceSelector, nsLabels.get(ns))
        : ns === policyNs;
      const podOk = peer.podSelector ? selectorMatches(peer.podSelector, p.metadata?.labels) : true;
      return nsOk && podOk;
    })
    .map((p) => `${p.status?.podIP}/32`);
  return { addrs: [...new Set(ips)].sort() };
}

/** "-p tcp --dport 80" style matches; undefined when the port cannot be expressed. */
function portMatches(ports: V1NetworkPolicyPort[] | undefined, target?: V1Pod): (string | undefined)[] {
  if (!ports?.length) return [''];
  return ports.map((p) => {
    const proto = (p.protocol ?? 'TCP').toLowerCase();
    if (proto !== 'tcp' && proto !== 'udp') return undefined;
    if (p.port === undefined) return `-p ${proto}`;
    let port = p.port;
    if (typeof port === 'string') {
      // A named port: resolvable only against the pod the rule protects (ingress).
      const named = target?.spec?.containers
        .flatMap((c) => c.ports ?? [])
        .find((cp) => cp.name === port && (cp.protocol ?? 'TCP').toLowerCase() === proto);
      if (!named) return undefined;
      port = named.containerPort;
    }
    return `-p ${proto} --dport ${port}${p.endPort ? `:${p.endPort}` : ''}`;
  });
}

/** The filter-table ruleset (iptables-restore syntax, without *filter/COMMIT). */
export function render(w: World): { chains: string[]; rules: string[] } {
  const chains: string[] = HOOKS.map(([, c]) => c);
  const rules: string[] = [];
  for (const [, c] of HOOKS) rules.push(`-A ${c} -m conntrack --ctstate RELATED,ESTABLISHED -j RETURN`);
  const policies = [...w.policies].sort((a, b) =>
    `${a.metadata?.namespace}/${a.metadata?.name}`.localeCompare(
      `${b.metadata?.namespace}/${b.metadata?.name}`,
    ),
  );
  const pods = networkedPods(w).sort((a, b) => (a.status?.podIP ?? '').localeCompare(b.status?.podIP ?? ''));
  for (const pod of pods) {
    const ns = pod.metadata?.namespace ?? '';
    const ip = pod.status?.podIP ?? '';
    const selecting = policies.filter(
      (np) =>
        np.metadata?.namespace === ns && selectorMatches(np.spec?.podSelector, pod.metadata?.labels ?? {}),
    );
    for (const kind of ['Egress', 'Ingress'] as const) {
      const applied = selecting.filter((np) => {
        const types = np.spec?.policyTypes ?? (np.spec?.egress ? ['Ingress', 'Egress'] : ['Ingress']);
        return types.includes(kind);
      });
      if (applied.length === 0) continue;
      const egress = kind === 'Egress';
      const chain = `${CHAIN_PREFIX}${egress ? 'E' : 'I'}-${hash(`${ns}/${pod.metadata?.name}/${pod.metadata?.uid}`)}`;
      chains.push(chain);
      const sel = egress ? `-s ${ip}/32` : `-d ${ip}/32`;
      rules.push(`-A ${CHAIN_PREFIX}FWD ${sel} -j ${chain}`);
      if (egress) rules.push(`-A ${CHAIN_PREFIX}IN ${sel} -j ${chain}`);
      rules.push(`-A ${chain} -j MARK --set-xmark 0x0/0x10000`);
      const peerDir = egress ? '-d' : '-s';
      for (const np of applied) {
        const npNs = np.metadata?.namespace ?? '';
        const list = egress
          ? (np.spec?.egress ?? []).map((r) => ({ peers: r.to, ports: r.ports }))
          : (np.spec?.ingress ?? []).map((r) => ({ peers: r._from, ports: r.ports }));
        for (const r of list) {
          const ports = portMatches(r.ports, egress ? undefined : pod).filter((p) => p !== undefined);
          const peers = r.peers?.length ? r.peers.map((p) => peerMatches(w, npNs, p)) : [{ addrs: [''] }];
          for (const peer of peers) {
            for (const addr of peer.addrs) {
              const a = addr ? `${peerDir} ${addr} ` : '';
              if (peer.except?.length) {
                // ipBlock.except: a sub-chain RETURNs for excluded addresses before marking.
                const x = `${CHAIN_PREFIX}X-${hash(`${chain}/${rules.length}`)}`;
                chains.push(x);
                for (const e of peer.except) rules.push(`-A ${x} ${peerDir} ${e} -j RETURN`);
                rules.push(`-A ${x} -j MARK --set-xmark ${MARK}`);
                for (const p of ports) rules.push(`-A ${chain} ${a}${p ? `${p} ` : ''}-j ${x}`);
              } else {
                for (const p of ports)
                  rules.push(`-A ${chain} ${a}${p ? `${p} ` : ''}-j MARK --set-xmark ${MARK}`);
              }
            }
          }
        }
      }
      rules.push(`-A ${chain} -m mark --mark ${MARK} -j RETURN`);
      rules.push(`-A ${chain} -m comment --comment "${kind} of ${ns}/${pod.metadata?.name}" -j REJECT`);
    }
  }
  return { chains, rules: rules.map((r) => r.replace(/ {2,}/g, ' ')) };
}

function iptables(args: string[], input?: string) {
  return spawnSync(input === undefined ? 'iptables' : 'iptables-restore', args, { input, encoding: 'utf8' });
}

/** Our chains that exist now in the filter table. */
function existingChains(): string[] {
  const r = spawnSync('iptables-save', ['-t', 'filter'], { encoding: 'utf8' });
  return r.stdout
    .split('\n')
    .filter((l) => l.startsWith(`:${CHAIN_PREFIX}`))
    .map((l) => l.slice(1).split(' ')[0] ?? '');
}

/** Writes the ruleset: declared chains are flushed and refilled, stale ones deleted. */
function apply(set: { chains: string[]; rules: string[] }): void {
  const stale = existingChains().filter((c) => !set.chains.includes(c));
  const lines = [
    '*filter',
    ...[...set.chains, ...stale].map((c) => `:${c} - [0:0]`),
    ...set.rules,
    ...stale.map((c) => `-X ${c}`),
    'COMMIT',
    '',
  ];
  const r = iptables(['--noflush'], lines.join('\n'));
  if (r.status !== 0) throw new Error(`iptables-restore: ${r.stderr.trim()}`);
  for (const [builtin, chain] of HOOKS) {
    if (iptables(['-t', 'filter', '-C', builtin, '-j', chain]).status !== 0) {
      const h = iptables(['-t', 'filter', '-I', builtin, '1', '-j', chain]);
      if (h.status !== 0) throw new Error(`iptables -I ${builtin}: ${h.stderr.trim()}`);
    }
  }
}

/** Removes the hooks and every chain of ours. */
function cleanup(): void {
  for (const [builtin, chain] of HOOKS) {
    while (iptables(['-t', 'filter', '-D', builtin, '-j', chain]).status === 0);
  }
  const chains = existingChains();
  if (chains.length === 0) return;
  const lines = [
    '*filter',
    ...chains.map((c) => `:${c} - [0:0]`),
    ...chains.map((c) => `-X ${c}`),
    'COMMIT',
    '',
  ];
  iptables(['--noflush'], lines.join('\n'));
}

async function main(argv: string[]): Promise<void> {
  const o = new Command('netpol')
    .requiredOption('--kubeconfig <path>')
    .option('--interval-ms <ms>', 'poll interval', '1000')
    .parse(argv)
    .opts<{ kubeconfig: string; intervalMs: string }>();
  const kc = new KubeConfig();
  kc.loadFromFile(o.kubeconfig);
  const core = kc.makeApiClient(CoreV1Api);
  const net = kc.makeApiClient(NetworkingV1Api);
  const log = (m: string) => process.stdout.write(`${new Date().toISOString()} ${m}\n`);
  let last = '';
  // Leave nothing behind on a normal stop (`cluster.ts down` also sweeps after a SIGKILL).
  for (const sig of ['SIGTERM', 'SIGINT'] as const)
    process.on(sig, () => {
      cleanup();
      log('stopped; chains removed');
      process.exit(0);
    });
  log('started');
  for (;;) {
    try {
      const [pods, namespaces, policies] = await Promise.all([
        core.listPodForAllNamespaces(),
        core.listNamespace(),
        net.listNetworkPolicyForAllNamespaces(),
      ]);
      const set = render({ pods: pods.items, namespaces: namespaces.items, policies: policies.items });
      const text = set.rules.join('\n');
      // Re-apply when the rules changed or a hook went missing (e.g. someone flushed).
      const hooked = HOOKS.every(([b, c]) => iptables(['-t', 'filter', '-C', b, '-j', c]).status === 0);
      if (text !== last || !hooked) {
        apply(set);
        last = text;
        log(
          `applied ${set.rules.length} rules for ${policies.items.length} policies, ${set.chains.length} chains`,
        );
      }
    } catch (e) {
      log(`sync failed: ${e instanceof Error ? e.message : String(e)}`);
    }
    await new Promise((r) => setTimeout(r, Number(o.intervalMs)));
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main(process.argv).catch((e: unknown) => {
    process.stderr.write(`netpol: ${e instanceof Error ? e.stack : String(e)}\n`);
    process.exit(1);
  });
}
