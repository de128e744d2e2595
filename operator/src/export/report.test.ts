import { describe, expect, it } from 'vitest';
import type { InstanceRecord, SWEInstanceSpec, SWEInstanceStatus } from '../api/index.ts';
import { envFunnel, renderReport } from './report.ts';

const spec = { instanceId: 'o__r-1', repo: 'o/r' } as SWEInstanceSpec;
const ATTEMPTED = { env: 1, tests: 0, prompt: 0, verify: 0 };
const recipe = { setupScript: '', testCommand: 't', resultFormat: 'pytest' as const };
const at = (status: SWEInstanceStatus): InstanceRecord => ({ spec, status });
const rejected = (stage: 'env' | 'tests', reason: string, phase: 'Rejected' | 'Failed' = 'Rejected') =>
  at({
    phase,
    attempts: ATTEMPTED,
    ...(stage === 'tests' && { recipe }),
    lastError: { stage, reason, message: '', time: '' },
  });

describe('report: env stage funnel', () => {
  const instances = [
    at({ phase: 'Verified', attempts: ATTEMPTED, recipe }),
    rejected('tests', 'NoFailToPass'),
    rejected('env', 'InterpreterUnsupported'),
    rejected('env', 'DependencyResolutionFailed'),
    rejected('env', 'DependencyResolutionFailed'),
    rejected('env', 'SetupReplayFailed', 'Failed'),
    at({ phase: 'Env', attempts: ATTEMPTED }),
    at({ phase: 'Pending' }),
  ];

  it('breaks the instances that did not come up down by the env reason', () => {
    expect(envFunnel(instances)).toEqual({
      'entered the env stage': 7,
      EnvReady: 2,
      'rejected: DependencyResolutionFailed': 2,
      'failed: SetupReplayFailed': 1,
      'in progress': 1,
      'rejected: InterpreterUnsupported': 1,
    });
  });

  it('is a section of report.md', () => {
    const text = renderReport({ runName: 'r', discovered: 8, rejectedByReason: {}, instances });
    expect(text).toContain('## Env stage');
    expect(text).toContain('| rejected: DependencyResolutionFailed | 2 |');
    expect(text).toContain('| EnvReady | 2 |');
  });
});
