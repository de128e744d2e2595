// Campaigns against a real kube-apiserver: a campaign over 50 real git repositories fans out to
// one CurationRun each, shares one concurrency limit, survives an operator SIGKILL without a
// duplicate run or instance, and ends with its funnel exact; a scheduled campaign's second
// period (its clock advanced by the test, no waiting) mines only the PRs merged since the first.
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  CAMPAIGNS,
  type Campaign,
  CURATIONRUNS,
  type CurationRun,
  campaignRunName,
  periodLabel,
  SWEINSTANCES,
  type SWEInstance,
} from '../../operator/src/api/index.ts';
import { exportCampaign } from '../../operator/src/cli/cluster.ts';
import { Manager } from '../../operator/src/controller/manager.ts';
import type { RawObject } from '../../operator/src/controller/resources.ts';
import {
  collectionPath,
  createLogger,
  Informer,
  Kube,
  OperatorMetrics,
} from '../../operator/src/kube/index.ts';
import { isTerminal } from '../../operator/src/pipeline/pipeline.ts';
import { FakeGitHub } from '../support/github-server.ts';
import { type HistoryPr, writeHistory } from './git-history.ts';
import {
  fakeKubelet,
  GIT_CACHE_DIR,
  type PodVerdict,
  succeededResult,
  useOperators,
} from './operator-harness.ts';
import { apiErrorMessage, cluster, kubectl, poll, useTestNamespace } from './support.ts';

const ns = useTestNamespace('camp');
const operator = useOperators();

type Named<T> = T & { metadata: { name: string } };

/** Repository r: 1–3 fixes (#1..), every 5th also a docs-only PR, every 7th an untested one. */
function prsOf(r: number): HistoryPr[] {
  const prs: HistoryPr[] = [];
  for (let i = 0; i < 1 + (r % 3); i++) prs.push({ number: prs.length + 1 });
  if (r % 5 === 0) prs.push({ number: prs.length + 1, kind: 'docs' });
  if (r % 7 === 0) prs.push({ number: prs.length + 1, kind: 'untested' });
  return prs;
}

/** The kubelet's verdicts: the tests stage of every PR #2 finds no failing test; all else succeeds. */
const verdict = (p: { name: string; stage: string }): PodVerdict =>
  p.stage === 'tests' && /-2-tests-1$/.test(p.name)
    ? {
        phase: 'Succeeded',
        result: {
          stage: 'tests',
          outcome: 'rejected',
          reason: 'NoFailToPass',
          message: 'no test fails',
          durationMs: 1,
        },
      }
    : { phase: 'Succeeded', result: succeededResult(p.stage) };

/** Counts instances in flight as the API server orders their writes; keeps the maximum. */
async function watchInFlight(kube: Kube, namespace: string) {
  const informer = new Informer<RawObject>({
    name: 'campaign-instances',
    kube,
    path: collectionPath(SWEINSTANCES, namespace),
    list: () => kube.list<RawObject>(SWEINSTANCES, namespace),
    log: createLogger({ level: 'silent' }),
  });
  const running = new Set<string>();
  let max = 0;
  informer.onEvent((obj, event) => {
    const name = obj.metadata.name ?? '';
    if (event === 'delete' || isTerminal(obj.status as SWEInstance['status'])) running.delete(name);
    else running.add(name);
    max = Math.max(max, running.size);
  });
  await informer.start();
  await informer.waitForSync();
  return { max: () => max, stop: () => informer.stop() };
}

describe('campaign', () => {
  it('50 repositories: one run each, a shared limit, a SIGKILL mid-campaign, the funnel exact', {
    timeout: 600_000,
  }, async () => {
    const { name: namespace } = ns();
    const kube = new Kube({ kubeconfig: cluster().kubeconfig });
    const root = mkdtempSync(join(tmpdir(), 'campaign-'));
    const REPOS = 50;
    const MAX_PARALLEL = 8;
    const plans = Array.from({ length: REPOS }, (_, r) => prsOf(r));
    const repositories = plans.map((prs, r) => ({
      git: { url: writeHistory(join(root, `lib-${r}.git`), prs), repo: `acme/lib-${r}` },
    }));
    // The expected funnel, from the generator's inputs alone.
    const all = plans.flat();
    const fixes = all.filter((p) => (p.kind ?? 'fix') === 'fix');
    const expected = {
      repositories: REPOS,
      runs: REPOS,
      runsFinished: REPOS,
      runsFailed: 0,
      discovered: all.length,
      rejected: all.length - fixes.length,
      instances: fixes.length,
      running: 0,
      verified: fixes.filter((p) => p.number !== 2).length,
      failed: fixes.filter((p) => p.number === 2).length,
    };
    expect(expected).toMatchObject({ discovered: 117, instances: 99, verified: 66, failed: 33 });

    const inFlight = await watchInFlight(kube, namespace);
    const kubelet = fakeKubelet(kube, namespace, verdict);
    const first = operator(namespace, 'camp-a');
    try {
      await kube.create(CAMPAIGNS, namespace, {
        apiVersion: 'scaleswe.dev/v1alpha1',
        kind: 'Campaign',
        metadata: { name: 'camp' },
        spec: { repositories, maxParallel: MAX_PARALLEL, template: { limits: { maxPRs: 10 } } },
      });
      const campaign = () => kube.get<Named<Campaign>>(CAMPAIGNS, namespace, 'camp');
      await poll('a third of the instances verified', 300_000, async () =>
        ((await campaign()).status?.funnel?.verified ?? 0) >= 22 ? true : undefined,
      );
      first.proc.kill('SIGKILL');
      await first.exited;
      const second = operator(namespace, 'camp-b');
      await second.waitForLog((l) => l.msg === 'became leader');
      const done = await poll('campaign Succeeded', 400_000, async () => {
        const c = await campaign();
        return c.status?.phase === 'Succeeded' ? c : undefined;
      });

      expect(done.status?.funnel).toEqual(expected);
      expect(done.status?.rejectedByReason).toEqual({
        DocsOrLockfileOnly: plans.filter((_, r) => r % 5 === 0).length,
        NoTestsAndNoLlm: plans.filter((_, r) => r % 7 === 0).length,
      });
      expect(done.status?.failedByReason).toEqual({ NoFailToPass: expected.failed });
      expect(done.status?.progress).toBe(`${REPOS}/${REPOS}`);
      // One shared limit: never more instances in flight than the campaign allows.
      expect(inFlight.max()).toBeGreaterThan(0);
      expect(inFlight.max()).toBeLessThanOrEqual(MAX_PARALLEL);

      // Exactly one run per repository, named deterministically, owned by the campaign.
      const runs = (await kube.list<Named<CurationRun>>(CURATIONRUNS, namespace)).items;
      expect(runs.map((r) => r.metadata.name).sort()).toEqual(
        plans.map((_, r) => campaignRunName('camp', `acme/lib-${r}`)).sort(),
      );
      for (const run of runs) {
        expect(run.metadata.ownerReferences).toEqual([
          expect.objectContaining({
            kind: 'Campaign',
            name: 'camp',
            uid: done.metadata.uid,
            controller: true,
          }),
        ]);
        expect(run.status?.phase).toBe('Succeeded');
      }
      // No instance twice and no stage run twice across the restart.
      const instances = (await kube.list<Named<SWEInstance>>(SWEINSTANCES, namespace)).items;
      const ids = instances.map((i) => i.spec.instanceId);
      expect(new Set(ids).size).toBe(ids.length);
      expect(ids.sort()).toEqual(
        plans
          .flatMap((prs, r) =>
            prs.filter((p) => (p.kind ?? 'fix') === 'fix').map((p) => `acme__lib-${r}-${p.number}`),
          )
          .sort(),
      );
      // (a stage not reached counts 0: the tests of every PR #2 reject it before verify)
      for (const i of instances)
        expect(
          Object.values(i.status?.attempts ?? {}).filter((n) => n > 1),
          `${i.metadata.name}: ${JSON.stringify(i.status?.attempts)}`,
        ).toEqual([]);

      // What `kubectl get campaigns` users watch.
      const table = kubectl(['get', 'campaigns', '-n', namespace]);
      expect(table.code, table.stderr).toBe(0);
      expect(table.stdout).toMatch(
        /^NAME\s+PHASE\s+RUNS\s+PRS\s+INSTANCES\s+VERIFIED\s+FAILED\s+REASON\s+AGE/,
      );
      expect(table.stdout).toMatch(/\ncamp\s+Succeeded\s+50\/50\s+117\s+99\s+66\s+33\s+Reconciled\s/);
      process.stderr.write(
        `[campaign] ${REPOS} repositories, ${expected.instances} instances, max ${inFlight.max()} in flight (limit ${MAX_PARALLEL}), ${kubelet.finished()} stage pods\n`,
      );
    } finally {
      await kubelet.stop();
      await inFlight.stop();
    }
  });

  it('rejects bad campaigns at apply time', async () => {
    const { name: namespace } = ns();
    const kube = new Kube({ kubeconfig: cluster().kubeconfig });
    const attempt = async (spec: object) => {
      try {
        await kube.create(CAMPAIGNS, namespace, {
          apiVersion: 'scaleswe.dev/v1alpha1',
          kind: 'Campaign',
          metadata: { name: 'bad' },
          spec,
        });
        return 'accepted';
      } catch (e) {
        return apiErrorMessage(e);
      }
    };
    const example = kubectl([
      'apply',
      '-n',
      namespace,
      '-f',
      join(import.meta.dirname, '../../examples/campaign.yaml'),
    ]);
    expect(example.stderr).toBe('');
    expect(example.stdout).toMatch(/campaign.scaleswe.dev\/python-libs created/);
    const repo = { github: { repo: 'psf/requests' } };
    expect(await attempt({ maxParallel: 4 })).toMatch(/set repositories, search, or both/);
    expect(await attempt({ search: { topics: ['Not A Topic'] } })).toMatch(
      /spec.search.topics\[0\]: Invalid value/,
    );
    expect(await attempt({ repositories: [] })).toMatch(
      /spec.repositories: Invalid value: .*at least 1 items/,
    );
    expect(await attempt({ repositories: [{ github: repo.github, git: { url: '/x' } }] })).toMatch(
      /exactly one of source.github or source.git must be set/,
    );
    expect(await attempt({ repositories: [repo], schedule: 'every day' })).toMatch(
      /spec.schedule: Invalid value/,
    );
    expect(await attempt({ repositories: [repo], template: { solve: {} } })).toMatch(
      /solve needs an llm section/,
    );
    expect(
      await attempt({ repositories: [repo], template: { limits: { maxPRs: 2, maxParallel: 3 } } }),
    ).toMatch(/limits.maxParallel must not exceed limits.maxPRs/);
  });

  it('a scheduled campaign: the second period mines only the PRs merged since the first', {
    timeout: 300_000,
  }, async () => {
    const { name: namespace } = ns();
    const kube = new Kube({ kubeconfig: cluster().kubeconfig });
    const root = mkdtempSync(join(tmpdir(), 'campaign-schedule-'));
    // The operator's clock, behind the wall clock (stage pods created "in the future" never
    // look overdue), advanced by the test: an hour passes without waiting for it.
    const HOUR = 3_600_000;
    const base = Math.floor(Date.now() / HOUR) * HOUR - 4 * HOUR;
    let offset = base + HOUR / 2 - Date.now();
    const now = () => new Date(Date.now() + offset);
    const at = (ms: number) => Math.floor((base + ms) / 1000);
    const repos = [0, 1].map((r) =>
      writeHistory(
        join(root, `svc-${r}.git`),
        [1, 2, 3].map((n) => ({ number: n, time: at(-20 * 60_000 + n * 60_000) })),
      ),
    );
    const manager = new Manager({
      kube,
      namespace,
      log: createLogger({ level: 'silent' }),
      metrics: new OperatorMetrics(),
      identity: 'schedule-test',
      gitCacheDir: GIT_CACHE_DIR,
      now,
    });
    const kubelet = fakeKubelet(kube, namespace);
    await manager.start();
    try {
      await kube.create(CAMPAIGNS, namespace, {
        apiVersion: 'scaleswe.dev/v1alpha1',
        kind: 'Campaign',
        metadata: { name: 'nightly' },
        spec: {
          repositories: repos.map((url, r) => ({ git: { url, repo: `acme/svc-${r}` } })),
          schedule: '0 * * * *',
        },
      });
      const campaign = () => kube.get<Named<Campaign>>(CAMPAIGNS, namespace, 'nightly');
      const waiting = (periods: number) =>
        poll(`period ${periods} finished`, 120_000, async () => {
          const c = await campaign();
          return c.status?.phase === 'Waiting' && c.status.schedule?.periods === periods ? c : undefined;
        });
      const firstPeriod = await waiting(1);
      const firstEnd = firstPeriod.status?.schedule?.cursor ?? '';
      expect(Date.parse(firstEnd)).toBeGreaterThanOrEqual(base + HOUR / 2 - 60_000);
      expect(firstPeriod.status?.schedule?.nextPeriodAt).toBe(new Date(base + HOUR).toISOString());
      expect(firstPeriod.status?.funnel).toMatchObject({ runs: 2, discovered: 6, instances: 6, verified: 6 });

      // New merges: two inside the next period, one after its end (left for the period after).
      for (const [r, url] of repos.entries())
        writeHistory(
          url,
          [
            { number: 4, time: at(40 * 60_000 + r) },
            { number: 5, time: at(45 * 60_000 + r) },
            { number: 6, time: at(HOUR + 5 * 60_000) },
          ],
          { append: true },
        );
      offset += HOUR; // now ≈ base + 1h30m: the tick at base + 1h is due
      manager.campaignController.enqueue(`${namespace}/nightly`);
      const second = await waiting(2);
      expect(second.status?.schedule).toEqual({
        periodStart: firstEnd,
        cursor: new Date(base + HOUR).toISOString(),
        periods: 2,
        nextPeriodAt: new Date(base + 2 * HOUR).toISOString(),
      });
      expect(second.status?.funnel).toMatchObject({ runs: 4, discovered: 10, instances: 10, verified: 10 });

      // The second period's runs: dated, windowed, and holding only the new PRs.
      const runs = (await kube.list<Named<CurationRun>>(CURATIONRUNS, namespace)).items;
      const period2 = runs.filter(
        (r) => r.metadata.labels?.['scaleswe.dev/period'] !== periodLabel(firstEnd),
      );
      expect(period2).toHaveLength(2);
      for (const run of period2)
        expect(run.spec.filters).toMatchObject({
          mergedAfter: firstEnd,
          mergedBefore: new Date(base + HOUR).toISOString(),
        });
      const instances = (await kube.list<Named<SWEInstance>>(SWEINSTANCES, namespace)).items;
      const ids = instances.map((i) => i.spec.instanceId);
      expect(new Set(ids).size).toBe(ids.length); // nothing curated twice
      const newIds = instances
        .filter((i) => period2.some((r) => r.metadata.name === i.spec.runRef))
        .map((i) => i.spec.instanceId)
        .sort();
      expect(newIds).toEqual(['acme__svc-0-4', 'acme__svc-0-5', 'acme__svc-1-4', 'acme__svc-1-5']);

      // Dated snapshots: the second period's export holds its PRs only; the campaign's, all.
      const exported = async (period?: string) => {
        const out = join(root, `export-${period ?? 'all'}`);
        await exportCampaign(kube, namespace, 'nightly', period, out);
        return readFileSync(join(out, 'dataset.jsonl'), 'utf8')
          .trim()
          .split('\n')
          .map((line) => (JSON.parse(line) as { instance_id: string }).instance_id)
          .sort();
      };
      expect(await exported(periodLabel(new Date(base + HOUR).toISOString()))).toEqual(newIds);
      expect(await exported()).toEqual([...ids].sort());
      expect(ids).toHaveLength(10);
    } finally {
      await kubelet.stop();
      await manager.stop();
    }
  });
  it('a search campaign: the repositories GitHub finds become its runs, searched once', async () => {
    const { name: namespace } = ns();
    const kube = new Kube({ kubeconfig: cluster().kubeconfig });
    const github = new FakeGitHub({ owner: 'none', repo: 'none', token: 'gh-token' });
    github.searchable = Array.from({ length: 40 }, (_, i) => ({
      full_name: `org/lib-${i}`,
      language: i % 2 === 0 ? 'Python' : 'Rust',
      stargazers_count: 10 * i,
      pushed_at: '2026-01-01T00:00:00Z',
      topics: i % 3 === 0 ? ['parsing'] : [],
    }));
    const baseURL = await github.start();
    await kube.createSecret(namespace, 'github', { token: 'gh-token' });
    const op = operator(namespace, 'camp-search');
    try {
      const search = {
        language: 'python',
        minStars: 100,
        topics: ['parsing'],
        baseURL,
        tokenSecretRef: { name: 'github', key: 'token' },
      };
      await kube.create(CAMPAIGNS, namespace, {
        apiVersion: 'scaleswe.dev/v1alpha1',
        kind: 'Campaign',
        metadata: { name: 'found' },
        // Suspended: the runs exist but mine nothing (this fake serves no repository's PRs).
        spec: { search, suspend: true },
      });
      // Python (even i), stars >= 100 (i >= 10), topic parsing (i % 3 == 0): 12, 18, 24, 30, 36.
      const expected = [36, 30, 24, 18, 12].map((i) => `org/lib-${i}`);
      const c = await poll('runs of the search', 60_000, async () => {
        const got = await kube.get<Named<Campaign>>(CAMPAIGNS, namespace, 'found');
        return got.status?.funnel?.runs === expected.length ? got : undefined;
      });
      expect(c.status?.search).toMatchObject({
        query: 'language:python stars:>=100 topic:parsing fork:false archived:false',
        totalCount: 5,
        repositories: expected,
      });
      expect(c.status?.phase).toBe('Suspended');
      const runs = (await kube.list<Named<CurationRun>>(CURATIONRUNS, namespace)).items;
      expect(runs.map((r) => r.metadata.name).sort()).toEqual(
        expected.map((r) => campaignRunName('found', r)).sort(),
      );
      for (const run of runs) {
        expect(run.spec.suspend).toBe(true);
        expect(run.spec.source.github).toEqual({
          repo: expect.stringMatching(/^org\/lib-\d+$/),
          baseURL,
          tokenSecretRef: { name: 'github', key: 'token' },
        });
      }
      // Searched once: later reconciles (the runs' status writes wake the campaign) read status.
      await op.waitForLog((l) => l.msg === 'searched repositories');
      expect(github.countRequests((r) => r.path.startsWith('/search/repositories'))).toBe(1);
    } finally {
      await github.close();
    }
  });
});
