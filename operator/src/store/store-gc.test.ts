import { describe, expect, it } from 'vitest';
import { contentKey } from './instance-content.ts';
import { instanceOfKey, sweepDecision } from './store-gc.ts';
import { trajectoryKey } from './trajectory-keys.ts';

const content = (name: string) => contentKey({ namespace: 'ns', name }, 'ab12');
const trajectory = (name: string) =>
  trajectoryKey({ namespace: 'ns', run: 'nightly', instance: name, stage: 'env', attempt: 1 });

describe('store garbage collection', () => {
  it('reads the instance from content and trajectory keys, nothing from other keys', () => {
    expect(instanceOfKey(content('nightly.a-1'))).toEqual({ namespace: 'ns', name: 'nightly.a-1' });
    expect(instanceOfKey(trajectory('nightly.a-1'))).toEqual({ namespace: 'ns', name: 'nightly.a-1' });
    expect(instanceOfKey('exports/ns/nightly/dataset.jsonl')).toBeUndefined();
    expect(instanceOfKey('instances/ns/x')).toBeUndefined();
  });

  it("removes a deleted instance's objects only when it was missing at the sweep before too", () => {
    const keys = [content('kept'), trajectory('kept'), content('gone'), trajectory('gone'), content('new')];
    const exists = (i: { name: string }) => i.name === 'kept';
    const first = sweepDecision(keys, exists, new Set());
    expect(first.remove).toEqual([]);
    expect([...first.missing].sort()).toEqual(['ns/gone', 'ns/new']);
    // 'new' showed up in the cache meanwhile (its create had lagged): it is kept.
    const second = sweepDecision(keys, (i) => i.name !== 'gone', first.missing);
    expect(second.remove).toEqual([content('gone'), trajectory('gone')]);
    expect([...second.missing]).toEqual(['ns/gone']);
  });
});
