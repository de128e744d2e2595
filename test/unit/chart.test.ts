import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';

// Helm comes from test/cluster/build-k8s.sh (built from Go modules, cached by version).
const K8S_VERSION = process.env.K8S_VERSION ?? 'v1.33.13';
const helm =
  process.env.HELM ??
  join(process.env.SCALESWE_CACHE ?? join(homedir(), '.cache/scaleswe'), `k8s-${K8S_VERSION}/bin/helm`);
const chart = join(import.meta.dirname, '../../charts/scaleswe-operator');

interface Manifest {
  kind: string;
  metadata: { name: string; namespace?: string; annotations?: Record<string, string> };
  [key: string]: unknown;
}

function render(...sets: string[]): Manifest[] {
  const args = ['template', 'rel', chart, '--namespace', 'curation', ...sets.flatMap((s) => ['--set', s])];
  const yaml = execFileSync(helm, args, { encoding: 'utf8' });
  return parseAllDocuments(yaml)
    .map((d) => d.toJS() as Manifest | null)
    .filter((m): m is Manifest => m !== null);
}

const byKind = (manifests: Manifest[], kind: string) => manifests.filter((m) => m.kind === kind);

describe('helm chart', () => {
  it('has helm available (run test/cluster/build-k8s.sh)', () => {
    expect(existsSync(helm), `${helm} missing`).toBe(true);
  });

  it('lints clean', () => {
    const lint = spawnSync(helm, ['lint', '--strict', chart], { encoding: 'utf8' });
    expect(lint.status, lint.stdout + lint.stderr).toBe(0);
  });

  it('defaults: namespaced RBAC, leader election, kept CRDs, restricted pod', () => {
    const manifests = render();
    expect(byKind(manifests, 'ClusterRole')).toHaveLength(0);
    const roles = byKind(manifests, 'Role');
    expect(roles.map((r) => r.metadata.name).sort()).toEqual([
      'rel-scaleswe-operator',
      'rel-scaleswe-operator-apiserver-endpoints',
      'rel-scaleswe-operator-gateway',
      'rel-scaleswe-operator-leader-election',
    ]);
    // Read-only, in default: the API server's own addresses, denied to sandboxes.
    const endpoints = roles.find((r) => r.metadata.name === 'rel-scaleswe-operator-apiserver-endpoints') as
      | (Manifest & { metadata: { namespace: string }; rules: object[] })
      | undefined;
    expect(endpoints?.metadata.namespace).toBe('default');
    expect(endpoints?.rules).toEqual([
      { apiGroups: ['discovery.k8s.io'], resources: ['endpointslices'], verbs: ['list'] },
    ]);
    const rules = (
      roles.find((r) => r.metadata.name === 'rel-scaleswe-operator') as unknown as {
        rules: { resources: string[]; verbs: string[] }[];
      }
    ).rules;
    const verbsOf = (resource: string) =>
      rules.filter((r) => r.resources.includes(resource)).flatMap((r) => r.verbs);
    expect(verbsOf('pods/log')).toEqual(['get']);
    expect(verbsOf('secrets')).toEqual(['get', 'create']);
    expect(verbsOf('configmaps').sort()).toEqual(['create', 'get', 'list', 'update']);
    expect(verbsOf('pods')).not.toContain('update');
    expect(verbsOf('campaigns')).toEqual(['get', 'list', 'watch']);
    expect(verbsOf('campaigns/status')).toEqual(['get', 'update', 'patch']);
    // Evaluations are written by users: the operator watches them and writes only their status.
    expect(verbsOf('evaluations')).toEqual(['get', 'list', 'watch']);
    expect(verbsOf('evaluations/status')).toEqual(['get', 'update', 'patch']);
    const crds = byKind(manifests, 'CustomResourceDefinition');
    expect(crds.map((c) => c.metadata.name).sort()).toEqual([
      'campaigns.scaleswe.dev',
      'curationruns.scaleswe.dev',
      'evaluations.scaleswe.dev',
      'sweinstances.scaleswe.dev',
    ]);
    expect(crds.every((c) => c.metadata.annotations?.['helm.sh/resource-policy'] === 'keep')).toBe(true);
    const [deployment] = byKind(manifests, 'Deployment') as unknown as {
      spec: {
        replicas: number;
        template: {
          spec: {
            securityContext: { runAsNonRoot: boolean };
            containers: { args: string[]; securityContext: Record<string, unknown> }[];
          };
        };
      };
    }[];
    expect(deployment!.spec.replicas).toBe(2);
    const pod = deployment!.spec.template.spec;
    expect(pod.securityContext.runAsNonRoot).toBe(true);
    // The non-root operator must be able to read its 0400 Secret volume (gateway HMAC key).
    expect(pod.securityContext).toMatchObject({ fsGroup: 65532 });
    expect(pod.containers[0]!.args).toContain('--leader-elect=true');
    // One Lease per release: two releases in a namespace never share a leader.
    expect(pod.containers[0]!.args).toContain('--leader-election-id=rel-scaleswe-operator');
    expect(pod.containers[0]!.securityContext).toMatchObject({
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
    });
    expect(byKind(manifests, 'ServiceMonitor')).toHaveLength(0);
  });

  it('serves the LLM gateway: Service port, container port, URL, a generated HMAC key mounted read-only', () => {
    const manifests = render();
    const [service] = byKind(manifests, 'Service') as unknown as {
      spec: { ports: { name: string; port: number; targetPort: string }[]; sessionAffinity?: string };
    }[];
    expect(service!.spec.ports).toContainEqual({ name: 'gateway', port: 8081, targetPort: 'gateway' });
    // Budgets and rates are counted per replica: each sandbox pod sticks to one.
    expect(service!.spec).toMatchObject({
      sessionAffinity: 'ClientIP',
      sessionAffinityConfig: { clientIP: { timeoutSeconds: 86400 } },
    });
    const [deployment] = byKind(manifests, 'Deployment') as unknown as {
      spec: {
        template: {
          spec: {
            containers: {
              args: string[];
              ports: { name: string; containerPort: number }[];
              volumeMounts: { name: string; mountPath: string; readOnly?: boolean }[];
            }[];
            volumes: { name: string; secret?: { secretName: string } }[];
          };
        };
      };
    }[];
    const pod = deployment!.spec.template.spec;
    const container = pod.containers[0]!;
    expect(container.ports).toContainEqual({ name: 'gateway', containerPort: 8081 });
    expect(container.args).toContain('--gateway-port=8081');
    // By default the operator looks up its Service's cluster IP (no cluster DNS needed) …
    expect(container.args).toContain('--gateway-service=rel-scaleswe-operator');
    expect(container.args.some((a) => a.startsWith('--gateway-url'))).toBe(false);
    const gatewayRole = byKind(manifests, 'Role').find(
      (r) => r.metadata.name === 'rel-scaleswe-operator-gateway',
    ) as (Manifest & { rules: object[] }) | undefined;
    expect(gatewayRole?.rules).toEqual([
      { apiGroups: [''], resources: ['services'], resourceNames: ['rel-scaleswe-operator'], verbs: ['get'] },
    ]);
    // … unless an address is given.
    const byURL = render('gateway.url=http://gw.example:8081');
    const [urlDeployment] = byKind(byURL, 'Deployment') as unknown as (typeof deployment)[];
    const urlArgs = urlDeployment!.spec.template.spec.containers[0]!.args;
    expect(urlArgs).toContain('--gateway-url=http://gw.example:8081');
    expect(urlArgs.some((a) => a.startsWith('--gateway-service'))).toBe(false);
    expect(byKind(byURL, 'Role').some((r) => r.metadata.name === 'rel-scaleswe-operator-gateway')).toBe(
      false,
    );
    expect(container.args).toContain('--gateway-secret-file=/etc/scaleswe/gateway/hmac-key');
    expect(container.args).toContain(
      '--gateway-pod-selector=app.kubernetes.io/name=scaleswe-operator,app.kubernetes.io/instance=rel',
    );
    expect(container.volumeMounts).toContainEqual({
      name: 'gateway-secret',
      mountPath: '/etc/scaleswe/gateway',
      readOnly: true,
    });
    const volume = pod.volumes.find((v) => v.name === 'gateway-secret');
    expect(volume?.secret?.secretName).toBe('rel-scaleswe-operator-gateway');
    const secret = byKind(manifests, 'Secret').find(
      (s) => s.metadata.name === 'rel-scaleswe-operator-gateway',
    ) as (Manifest & { data: Record<string, string> }) | undefined;
    expect(Buffer.from(secret!.data['hmac-key']!, 'base64').toString()).toMatch(/^[A-Za-z0-9]{48}$/);

    const off = render('gateway.port=0');
    expect(byKind(off, 'Secret')).toHaveLength(0);
    const [offDeployment] = byKind(off, 'Deployment') as unknown as (typeof deployment)[];
    const offArgs = offDeployment!.spec.template.spec.containers[0]!.args;
    expect(offArgs).toContain('--gateway-port=0');
    expect(offArgs.some((a) => a.startsWith('--gateway-url') || a.startsWith('--gateway-service'))).toBe(
      false,
    );
  });

  it('sandbox.denyCIDRs reaches the operator as --sandbox-deny-cidrs; a non-CIDR is refused by the schema', () => {
    const argsOf = (manifests: Manifest[]) =>
      (
        byKind(manifests, 'Deployment')[0] as unknown as {
          spec: { template: { spec: { containers: { args: string[] }[] } } };
        }
      ).spec.template.spec.containers[0]!.args;
    expect(argsOf(render()).some((a) => a.startsWith('--sandbox-deny-cidrs'))).toBe(false);
    expect(argsOf(render('sandbox.denyCIDRs={192.0.2.10/32,192.0.2.11/32}'))).toContain(
      '--sandbox-deny-cidrs=192.0.2.10/32,192.0.2.11/32',
    );
    expect(() => render('sandbox.denyCIDRs={apiserver.local}')).toThrow(/denyCIDRs/);
  });

  it('datasetStore: bucket, endpoint and region as flags, credentials from the named Secret only as env refs', () => {
    type Container = { args: string[]; env: { name: string; value?: string; valueFrom?: unknown }[] };
    const containerOf = (manifests: Manifest[]) =>
      (
        byKind(manifests, 'Deployment')[0] as unknown as {
          spec: { template: { spec: { containers: Container[] } } };
        }
      ).spec.template.spec.containers[0]!;
    const off = containerOf(render());
    expect(off.args.some((a) => a.startsWith('--store-'))).toBe(false);
    expect(off.env.some((e) => e.name.startsWith('AWS_'))).toBe(false);
    const on = containerOf(
      render(
        'datasetStore.bucket=ds',
        'datasetStore.endpoint=http://s3.local:9000',
        'datasetStore.credentialsSecretName=s3',
      ),
    );
    expect(on.args).toEqual(
      expect.arrayContaining([
        '--store-bucket=ds',
        '--store-endpoint=http://s3.local:9000',
        '--store-region=us-east-1',
        '--store-force-path-style=true',
      ]),
    );
    expect(on.env.filter((e) => e.name.startsWith('AWS_'))).toEqual([
      { name: 'AWS_ACCESS_KEY_ID', valueFrom: { secretKeyRef: { name: 's3', key: 'AWS_ACCESS_KEY_ID' } } },
      {
        name: 'AWS_SECRET_ACCESS_KEY',
        valueFrom: { secretKeyRef: { name: 's3', key: 'AWS_SECRET_ACCESS_KEY' } },
      },
    ]);
  });

  it('clusterScoped uses a ClusterRole; crds.install=false leaves CRDs out; ServiceMonitor on demand', () => {
    const manifests = render(
      'clusterScoped=true',
      'crds.install=false',
      'metrics.serviceMonitor.enabled=true',
    );
    expect(byKind(manifests, 'ClusterRole')).toHaveLength(1);
    expect(byKind(manifests, 'ClusterRoleBinding')).toHaveLength(1);
    expect(byKind(manifests, 'CustomResourceDefinition')).toHaveLength(0);
    expect(byKind(manifests, 'ServiceMonitor')).toHaveLength(1);
  });

  it('passes only flags the operator entrypoint accepts', () => {
    const main = readFileSync(join(import.meta.dirname, '../../operator/src/operator.ts'), 'utf8');
    const accepted = new Set([...main.matchAll(/\.option\(\s*'(--[a-z-]+)/g)].map((m) => m[1]));
    expect(accepted.size).toBeGreaterThan(5);
    for (const sets of [
      [],
      ['leaderElection.enabled=false', 'clusterScoped=true'],
      ['datasetStore.bucket=ds', 'datasetStore.endpoint=http://s3.local:9000', 'datasetStore.prefix=p'],
    ]) {
      const [deployment] = byKind(render(...sets), 'Deployment') as unknown as {
        spec: { template: { spec: { containers: { args: string[] }[] } } };
      }[];
      const args = deployment!.spec.template.spec.containers[0]!.args;
      expect(args.length).toBeGreaterThan(0);
      for (const arg of args) expect(accepted, arg).toContain(arg.split('=')[0]);
    }
  });

  it("heapLimitMiB bounds the operator's V8 old generation through NODE_OPTIONS; under 64 is refused", () => {
    const nodeOptions = (manifests: Manifest[]) =>
      (
        byKind(manifests, 'Deployment')[0] as unknown as {
          spec: { template: { spec: { containers: { env: { name: string; value?: string }[] }[] } } };
        }
      ).spec.template.spec.containers[0]!.env.find((e) => e.name === 'NODE_OPTIONS')?.value;
    expect(nodeOptions(render())).toBe('--max-old-space-size=128');
    expect(nodeOptions(render('heapLimitMiB=512'))).toBe('--max-old-space-size=512');
    expect(() => render('heapLimitMiB=32')).toThrow(/heapLimitMiB/);
  });

  it('rejects invalid values through values.schema.json', () => {
    const bad = spawnSync(helm, ['template', 'rel', chart, '--set', 'replicaCount=0'], { encoding: 'utf8' });
    expect(bad.status).not.toBe(0);
    expect(bad.stderr).toContain('replicaCount');
    const typo = spawnSync(helm, ['template', 'rel', chart, '--set', 'leaderElection.enable=true'], {
      encoding: 'utf8',
    });
    expect(typo.status).not.toBe(0);
  });

  it('works as a subchart: an umbrella chart with global values templates and lints strictly', () => {
    const umbrella = mkdtempSync(join(tmpdir(), 'umbrella-'));
    writeFileSync(
      join(umbrella, 'Chart.yaml'),
      'apiVersion: v2\nname: platform\nversion: 1.0.0\ndependencies:\n  - name: scaleswe-operator\n    version: "*"\n',
    );
    writeFileSync(
      join(umbrella, 'values.yaml'),
      'global:\n  imageRegistry: registry.example\nscaleswe-operator:\n  replicaCount: 1\n',
    );
    mkdirSync(join(umbrella, 'charts'));
    cpSync(chart, join(umbrella, 'charts/scaleswe-operator'), { recursive: true });
    const out = spawnSync(helm, ['template', 'platform', umbrella, '--namespace', 'x'], { encoding: 'utf8' });
    expect(out.status, out.stderr).toBe(0);
    const manifests = parseAllDocuments(out.stdout).map((d) => d.toJS() as Manifest | null);
    expect(manifests.some((m) => m?.kind === 'Deployment')).toBe(true);
    const lint = spawnSync(helm, ['lint', '--strict', umbrella], { encoding: 'utf8' });
    expect(lint.status, lint.stdout + lint.stderr).toBe(0);
  });

  it('two replicas get a PodDisruptionBudget and soft anti-affinity; one replica gets neither', () => {
    const two = render('replicaCount=2');
    const [pdb] = byKind(two, 'PodDisruptionBudget') as unknown as { spec: { maxUnavailable: number } }[];
    expect(pdb?.spec.maxUnavailable).toBe(1);
    const pod = (m: Manifest[]) =>
      (byKind(m, 'Deployment')[0] as unknown as { spec: { template: { spec: Record<string, unknown> } } })
        .spec.template.spec;
    expect(JSON.stringify(pod(two).affinity)).toContain('kubernetes.io/hostname');
    const one = render('replicaCount=1');
    expect(byKind(one, 'PodDisruptionBudget')).toHaveLength(0);
    expect(pod(one).affinity).toBeUndefined();
    // A user's affinity replaces the default.
    expect(pod(render('affinity.nodeAffinity.x=y')).affinity).toEqual({ nodeAffinity: { x: 'y' } });
  });

  it('security contexts, service account, pod labels and pull secrets can be set', () => {
    const m = render(
      'podSecurityContext.runAsUser=1000',
      'securityContext.readOnlyRootFilesystem=false',
      'serviceAccount.name=curator',
      'serviceAccount.annotations.iam\\.gke\\.io/gcp-service-account=sa@p.iam',
      'podLabels.team=data',
      'imagePullSecrets[0].name=regcred',
    );
    const spec = (
      byKind(m, 'Deployment')[0] as unknown as {
        spec: {
          template: {
            metadata: { labels: Record<string, string> };
            spec: {
              serviceAccountName: string;
              imagePullSecrets: object[];
              securityContext: Record<string, unknown>;
              containers: { securityContext: Record<string, unknown> }[];
            };
          };
        };
      }
    ).spec.template;
    expect(spec.spec.securityContext.runAsUser).toBe(1000);
    expect(spec.spec.containers[0]!.securityContext.readOnlyRootFilesystem).toBe(false);
    expect(spec.spec.serviceAccountName).toBe('curator');
    expect(spec.spec.imagePullSecrets).toEqual([{ name: 'regcred' }]);
    expect(spec.metadata.labels.team).toBe('data');
    const [sa] = byKind(m, 'ServiceAccount');
    expect(sa?.metadata.name).toBe('curator');
    expect(sa?.metadata.annotations).toEqual({ 'iam.gke.io/gcp-service-account': 'sa@p.iam' });
    for (const binding of [...byKind(m, 'RoleBinding')])
      expect((binding as unknown as { subjects: { name: string }[] }).subjects[0]!.name).toBe('curator');
    expect(byKind(render('serviceAccount.create=false'), 'ServiceAccount')).toHaveLength(0);
  });

  it('accepts quantities as Kubernetes does (cpu: 2, 1Pi) and refuses garbage', () => {
    const [d] = byKind(
      render('resources.limits.cpu=2', 'resources.limits.memory=1Pi'),
      'Deployment',
    ) as unknown as {
      spec: { template: { spec: { containers: { resources: { limits: Record<string, unknown> } }[] } } };
    }[];
    expect(d!.spec.template.spec.containers[0]!.resources.limits).toEqual({ cpu: 2, memory: '1Pi' });
    const bad = spawnSync(helm, ['template', 'rel', chart, '--set', 'resources.limits.cpu=lots'], {
      encoding: 'utf8',
    });
    expect(bad.status).not.toBe(0);
  });
});
