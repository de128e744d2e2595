import type { V1NetworkPolicy, V1Pod } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { render } from '../cluster/netpol.ts';

// The test cluster's NetworkPolicy enforcer turns the API's objects into one iptables ruleset
// (pure); the e2e tier shows the rules enforce. Here: which pod gets which chain and rule.

const pod = (name: string, ip: string, labels: Record<string, string>, ns = 'a'): V1Pod => ({
  metadata: { name, namespace: ns, uid: `uid-${name}`, labels },
  spec: { containers: [{ name: 'c', ports: [{ name: 'http', containerPort: 8080 }] }] },
  status: { podIP: ip, phase: 'Running' },
});
const namespaces = [
  { metadata: { name: 'a', labels: { 'kubernetes.io/metadata.name': 'a' } } },
  { metadata: { name: 'ops', labels: { 'kubernetes.io/metadata.name': 'ops' } } },
];
const sandbox = pod('sandbox', '10.244.0.5', { run: 'r' });
const neighbour = pod('neighbour', '10.244.0.6', { run: 'other' });
const gateway = pod('gateway', '10.244.0.9', { app: 'gw' }, 'ops');

const egressPolicy: V1NetworkPolicy = {
  metadata: { name: 'r-sandbox', namespace: 'a' },
  spec: {
    podSelector: { matchLabels: { run: 'r' } },
    policyTypes: ['Egress'],
    egress: [
      {
        to: [
          {
            namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'ops' } },
            podSelector: { matchLabels: { app: 'gw' } },
          },
        ],
        ports: [{ protocol: 'TCP', port: 8081 }],
      },
      { to: [{ ipBlock: { cidr: '0.0.0.0/0', except: ['10.0.0.1/32', '169.254.169.254/32'] } }] },
    ],
  },
};

const chainOf = (rules: string[], ip: string, hook: string) =>
  rules.find((r) => r.startsWith(`-A SSWE-NP-${hook} -s ${ip}/32`))?.split(' -j ')[1];

describe('netpol render', () => {
  it('without policies only the established-traffic shortcut exists', () => {
    const { chains, rules } = render({ pods: [sandbox, neighbour], namespaces, policies: [] });
    expect(chains).toEqual(['SSWE-NP-IN', 'SSWE-NP-FWD']);
    expect(rules).toEqual([
      '-A SSWE-NP-IN -m conntrack --ctstate RELATED,ESTABLISHED -j RETURN',
      '-A SSWE-NP-FWD -m conntrack --ctstate RELATED,ESTABLISHED -j RETURN',
    ]);
  });

  it('an egress policy gives the selected pod a chain (forwarded and to the node) that rejects the rest', () => {
    const { rules } = render({ pods: [sandbox, neighbour, gateway], namespaces, policies: [egressPolicy] });
    const chain = chainOf(rules, '10.244.0.5', 'FWD')!;
    expect(chain).toMatch(/^SSWE-NP-E-/);
    expect(chainOf(rules, '10.244.0.5', 'IN')).toBe(chain);
    // The neighbour is not selected: no chain of its own.
    expect(chainOf(rules, '10.244.0.6', 'FWD')).toBeUndefined();
    const own = rules.filter((r) => r.startsWith(`-A ${chain} `));
    // The gateway pod in the other namespace, on its port only.
    expect(own).toContain(
      `-A ${chain} -d 10.244.0.9/32 -p tcp --dport 8081 -j MARK --set-xmark 0x10000/0x10000`,
    );
    expect(own.at(-2)).toBe(`-A ${chain} -m mark --mark 0x10000/0x10000 -j RETURN`);
    expect(own.at(-1)).toMatch(/-j REJECT$/);
    // ipBlock.except: a sub-chain returns for the excluded addresses before it marks.
    const toExcept = own.find((r) => r.includes('-d 0.0.0.0/0'))!.split(' -j ')[1]!;
    expect(rules.filter((r) => r.startsWith(`-A ${toExcept} `))).toEqual([
      `-A ${toExcept} -d 10.0.0.1/32 -j RETURN`,
      `-A ${toExcept} -d 169.254.169.254/32 -j RETURN`,
      `-A ${toExcept} -j MARK --set-xmark 0x10000/0x10000`,
    ]);
  });

  it('ingress resolves named ports against the protected pod; finished and host-network pods get nothing', () => {
    const ingress: V1NetworkPolicy = {
      metadata: { name: 'in', namespace: 'a' },
      spec: {
        podSelector: {},
        ingress: [{ _from: [{ podSelector: { matchLabels: { run: 'other' } } }], ports: [{ port: 'http' }] }],
      },
    };
    const done = { ...pod('done', '10.244.0.7', {}), status: { podIP: '10.244.0.7', phase: 'Succeeded' } };
    const { rules } = render({ pods: [sandbox, neighbour, done], namespaces, policies: [ingress] });
    const chain = rules.find((r) => r.startsWith('-A SSWE-NP-FWD -d 10.244.0.5/32'))!.split(' -j ')[1];
    expect(rules).toContain(
      `-A ${chain} -s 10.244.0.6/32 -p tcp --dport 8080 -j MARK --set-xmark 0x10000/0x10000`,
    );
    expect(rules.some((r) => r.includes('10.244.0.7'))).toBe(false);
  });
});
