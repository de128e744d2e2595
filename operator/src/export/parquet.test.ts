import { describe, expect, it } from 'vitest';
import { parquetColumns, toParquet } from './parquet.ts';

describe('parquetColumns', () => {
  it('types each field by the values it takes, in first-seen order', () => {
    const records = [
      { id: 'a', n: 7, score: 0.5, ok: true, ids: ['x'], nums: [1, 2], tc: { go: '1.22' } },
      { id: 'b', n: 8, score: 1, ok: false, ids: [], nums: [], tc: {}, extra: 'late' },
    ];
    expect(parquetColumns(records)).toEqual([
      { name: 'id', kind: 'string' },
      { name: 'n', kind: 'int' },
      { name: 'score', kind: 'float' },
      { name: 'ok', kind: 'bool' },
      { name: 'ids', kind: 'string-list' },
      { name: 'nums', kind: 'int-list' },
      { name: 'tc', kind: 'json' },
      { name: 'extra', kind: 'string' },
    ]);
  });

  it('takes the declared kind only where the data is silent (every list empty)', () => {
    const declared = { issues: 'int-list', tags: 'int-list' } as const;
    expect(parquetColumns([{ issues: [], tags: ['v1'] }], declared)).toEqual([
      { name: 'issues', kind: 'int-list' },
      { name: 'tags', kind: 'string-list' },
    ]);
    // Mixed values fall back to JSON text rather than lose any.
    expect(parquetColumns([{ v: 'a' }, { v: 2 }])).toEqual([{ name: 'v', kind: 'json' }]);
  });

  it('writes a Parquet file (magic bytes at both ends); nothing without records', () => {
    const file = toParquet([{ id: 'a', n: 1 }])!;
    expect(file.subarray(0, 4).toString()).toBe('PAR1');
    expect(file.subarray(-4).toString()).toBe('PAR1');
    expect(toParquet([])).toBeUndefined();
  });
});
