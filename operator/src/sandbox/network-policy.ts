import { isIP } from 'node:net';
import type { OwnerReference } from '../api/index.ts';
import { LABEL_MANAGED_BY, LABEL_RUN, labelValue, MANAGED_BY } from './names.ts';

/** Cloud metadata endpoints: never reachable from a sandbox, even with allowAll. */
export const METADATA_CIDRS = ['169.254.169.254/32', 'fd00:ec2::254/128'];

export interface SandboxNetworkInput {
  runName: string;
  namespace: string;
  /** The run, as an owner reference. */
  owner: OwnerReference;
  egress: { allowCIDRs: string[]; allowAll: boolean };
  /** Clone URL or API base URL of the repository: allowed when its host is an IP literal. */
  repositoryURL?: string;
  /** The operator's LLM gateway: its pods (in-cluster) and/or its URL (an IP host is allowed directly). */
  gateway?: { url?: string; namespace?: string; podLabels?: Record<string, string>; port: number };
  /** The API server's service IP and endpoint addresses, excluded even from allowAll. */
  denyCIDRs?: string[];
}

export function networkPolicyName(runName: string): string {
  const name = `${runName}-sandbox`;
  return name.length <= 253 ? name : `${labelValue(runName)}-sandbox`;
}

/** host:port of a URL or scp-like git address; undefined for local paths. */
function hostOf(url: string): string | undefined {
  try {
    const u = new URL(url);
    if (u.protocol === 'file:') return undefined;
    return u.hostname.replace(/^\[|\]$/g, '');
  } catch {
    return /^[^/@]+@([^:/]+):/.exec(url)?.[1];
  }
}

function hostCIDR(host: string | undefined): string | undefined {
  if (!host) return undefined;
  const v = isIP(host);
  return v === 4 ? `${host}/32` : v === 6 ? `${host}/128` : undefined;
}

const DEFAULT_PORTS: Record<string, number> = { 'https:': 443, 'http:': 80, 'ssh:': 22, 'git:': 9418 };

/** The TCP port a URL (or scp-like git address, i.e. ssh) connects to. */
function portOf(url: string | undefined, fallback: number): number {
  if (!url) return fallback;
  try {
    const u = new URL(url);
    return u.port ? Number(u.port) : (DEFAULT_PORTS[u.protocol] ?? fallback);
  } catch {
    return /^[^/@]+@[^:/]+:/.test(url) ? 22 : fallback;
  }
}

/**
 * Pure: the NetworkPolicy of a run's sandbox pods. No ingress; egress only to cluster DNS,
 * the operator's LLM gateway, the CIDRs the run lists, the repository host when it is an IP
 * literal, on its port only (a NetworkPolicy cannot name hosts: list a hostname's addresses
 * in allowCIDRs; and the repository may sit beside the API server on the same address),
 * and with allowAll every address except the API server's and the metadata endpoints.
 * Enforcement needs a policy engine on the nodes (kube-router, Calico, Cilium …).
 */
export function buildSandboxNetworkPolicy(input: SandboxNetworkInput) {
  const egress: object[] = [
    {
      to: [
        {
          namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'kube-system' } },
          podSelector: { matchLabels: { 'k8s-app': 'kube-dns' } },
        },
      ],
      ports: [
        { protocol: 'UDP', port: 53 },
        { protocol: 'TCP', port: 53 },
      ],
    },
  ];
  const gw = input.gateway;
  if (gw) {
    const peers: object[] = [];
    if (gw.podLabels && Object.keys(gw.podLabels).length) {
      peers.push({
        podSelector: { matchLabels: gw.podLabels },
        ...(gw.namespace && {
          namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': gw.namespace } },
        }),
      });
    }
    const ip = hostCIDR(gw.url ? hostOf(gw.url) : undefined);
    if (ip) peers.push({ ipBlock: { cidr: ip } });
    // Pod selectors see the container port; an IP URL is reached on the URL's port. Port 0:
    // this operator serves no gateway (pods use the URL's), and 0 is no valid policy port.
    const ports = [...new Set([gw.port, portOf(gw.url, gw.port)])]
      .filter((port) => port > 0)
      .map((port) => ({ protocol: 'TCP', port }));
    if (peers.length) egress.push({ to: peers, ports });
  }
  const repo = hostCIDR(input.repositoryURL ? hostOf(input.repositoryURL) : undefined);
  if (repo) {
    egress.push({
      to: [{ ipBlock: { cidr: repo } }],
      ports: [{ protocol: 'TCP', port: portOf(input.repositoryURL, 443) }],
    });
  }
  const cidrs = [...new Set(input.egress.allowCIDRs)];
  if (cidrs.length) egress.push({ to: cidrs.map((cidr) => ({ ipBlock: { cidr } })) });
  if (input.egress.allowAll) {
    const denied = [...new Set([...(input.denyCIDRs ?? []), ...METADATA_CIDRS])];
    const v4 = denied.filter((c) => !c.includes(':'));
    const v6 = denied.filter((c) => c.includes(':'));
    egress.push({
      to: [
        { ipBlock: { cidr: '0.0.0.0/0', ...(v4.length && { except: v4 }) } },
        { ipBlock: { cidr: '::/0', ...(v6.length && { except: v6 }) } },
      ],
    });
  }
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: {
      name: networkPolicyName(input.runName),
      namespace: input.namespace,
      labels: { [LABEL_MANAGED_BY]: MANAGED_BY, [LABEL_RUN]: labelValue(input.runName) },
      ownerReferences: [input.owner],
    },
    spec: {
      podSelector: { matchLabels: { [LABEL_RUN]: labelValue(input.runName) } },
      policyTypes: ['Ingress', 'Egress'],
      ingress: [],
      egress,
    },
  };
}
export type SandboxNetworkPolicy = ReturnType<typeof buildSandboxNetworkPolicy>;
