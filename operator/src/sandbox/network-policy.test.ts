import { describe, expect, it } from 'vitest';
import { buildSandboxNetworkPolicy, type SandboxNetworkInput } from './network-policy.ts';

const owner = {
  apiVersion: 'scaleswe.dev/v1alpha1',
  kind: 'CurationRun',
  name: 'r',
  uid: 'u',
  controller: true,
};
const base: SandboxNetworkInput = {
  runName: 'r',
  namespace: 'ns',
  owner,
  egress: { allowCIDRs: [], allowAll: false },
};
const DNS = {
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
};

describe('sandbox NetworkPolicy', () => {
  it('selects the run pods, denies ingress and allows only DNS by default', () => {
    const p = buildSandboxNetworkPolicy(base);
    expect(p.metadata).toMatchObject({ name: 'r-sandbox', namespace: 'ns', ownerReferences: [owner] });
    expect(p.spec).toEqual({
      podSelector: { matchLabels: { 'scaleswe.dev/run': 'r' } },
      policyTypes: ['Ingress', 'Egress'],
      ingress: [],
      egress: [DNS],
    });
  });

  it('allows the gateway pods, listed CIDRs and an IP-literal repository host on its port only', () => {
    const p = buildSandboxNetworkPolicy({
      ...base,
      egress: { allowCIDRs: ['10.1.0.0/16'], allowAll: false },
      repositoryURL: 'http://192.0.2.7:8080/acme/widgets.git',
      gateway: { namespace: 'ops', podLabels: { 'app.kubernetes.io/name': 'scaleswe-operator' }, port: 8081 },
    });
    expect(p.spec.egress).toEqual([
      DNS,
      {
        to: [
          {
            podSelector: { matchLabels: { 'app.kubernetes.io/name': 'scaleswe-operator' } },
            namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'ops' } },
          },
        ],
        ports: [{ protocol: 'TCP', port: 8081 }],
      },
      { to: [{ ipBlock: { cidr: '192.0.2.7/32' } }], ports: [{ protocol: 'TCP', port: 8080 }] },
      { to: [{ ipBlock: { cidr: '10.1.0.0/16' } }] },
    ]);
  });

  it('a repository host is allowed on the port its URL scheme implies', () => {
    const portFor = (repositoryURL: string) =>
      (buildSandboxNetworkPolicy({ ...base, repositoryURL }).spec.egress[1] as { ports: { port: number }[] })
        .ports[0]!.port;
    expect(portFor('https://192.0.2.7/acme/widgets.git')).toBe(443);
    expect(portFor('http://192.0.2.7/acme/widgets.git')).toBe(80);
    expect(portFor('ssh://git@192.0.2.7/acme/widgets.git')).toBe(22);
    expect(portFor('git@192.0.2.7:acme/widgets.git')).toBe(22);
    expect(portFor('git://192.0.2.7/acme/widgets.git')).toBe(9418);
  });

  it('a hostname repository adds nothing (NetworkPolicy cannot name hosts); a gateway URL on an IP is allowed on its port', () => {
    const p = buildSandboxNetworkPolicy({
      ...base,
      repositoryURL: 'https://github.com/acme/widgets.git',
      gateway: { url: 'http://10.0.0.5:38081/v1', port: 8081 },
    });
    expect(p.spec.egress).toEqual([
      DNS,
      {
        to: [{ ipBlock: { cidr: '10.0.0.5/32' } }],
        ports: [
          { protocol: 'TCP', port: 8081 },
          { protocol: 'TCP', port: 38081 },
        ],
      },
    ]);
  });

  it('a gateway served elsewhere (--gateway-port 0 with --gateway-url) is allowed on its URL port only, never port 0', () => {
    for (const [url, port] of [
      ['http://10.0.0.5:38081/v1', 38081],
      ['https://10.0.0.5/v1', 443],
    ] as const) {
      const p = buildSandboxNetworkPolicy({ ...base, gateway: { url, port: 0 } });
      expect(p.spec.egress, url).toEqual([
        DNS,
        { to: [{ ipBlock: { cidr: '10.0.0.5/32' } }], ports: [{ protocol: 'TCP', port }] },
      ]);
    }
  });

  it('allowAll still excludes the API server and metadata addresses', () => {
    const p = buildSandboxNetworkPolicy({
      ...base,
      egress: { allowCIDRs: [], allowAll: true },
      denyCIDRs: ['10.96.0.1/32', '172.18.0.2/32'],
    });
    expect(p.spec.egress.at(-1)).toEqual({
      to: [
        { ipBlock: { cidr: '0.0.0.0/0', except: ['10.96.0.1/32', '172.18.0.2/32', '169.254.169.254/32'] } },
        { ipBlock: { cidr: '::/0', except: ['fd00:ec2::254/128'] } },
      ],
    });
  });
});
