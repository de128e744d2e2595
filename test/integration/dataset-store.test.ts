// The dataset store's two implementations honour one contract: S3Store against a real
// S3-compatible server (gofakes3 built from its Go module), DirStore on a directory.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type DatasetStore, DirStore } from '../../operator/src/store/dataset-store.ts';
import { S3Store } from '../../operator/src/store/s3-store.ts';
import { type S3Server, startS3Server } from '../support/s3-server.ts';

let server: S3Server;
beforeAll(async () => {
  server = await startS3Server();
});
afterAll(async () => {
  await server?.stop();
});

const stores: Array<[string, () => DatasetStore]> = [
  ['S3Store', () => new S3Store({ ...server.config, prefix: 'contract' })],
  ['DirStore', () => new DirStore(mkdtempSync(join(tmpdir(), 'dir-store-')))],
];

describe.each(stores)('%s', (_, make) => {
  it('puts and gets bytes exactly, replaces on a second put, and reports a missing key as undefined', async () => {
    const store = make();
    const body = JSON.stringify({ PASS_TO_PASS: Array.from({ length: 3000 }, (_, i) => `t::test_${i} ünï`) });
    await store.put('instances/ns/a/x.json', body);
    expect(Buffer.from((await store.get('instances/ns/a/x.json'))!).toString('utf8')).toBe(body);
    await store.put('instances/ns/a/x.json', 'second');
    expect(Buffer.from((await store.get('instances/ns/a/x.json'))!).toString('utf8')).toBe('second');
    expect(await store.get('instances/ns/a/none.json')).toBeUndefined();
    await store.delete('instances/ns/a/x.json');
    expect(await store.get('instances/ns/a/x.json')).toBeUndefined();
    await store.delete('instances/ns/a/x.json'); // missing: no error
    for (const k of ['t/ns/run/b/env-1.json.gz', 't/ns/run/a/tests-2.json.gz', 't/ns/other/a/env-1.json.gz'])
      await store.put(k, 'x');
    expect(await store.list('t/ns/run/')).toEqual(['t/ns/run/a/tests-2.json.gz', 't/ns/run/b/env-1.json.gz']);
    expect(await store.list('t/none/')).toEqual([]);
  });
});

describe('S3Store', () => {
  it('fails (does not report absent) while the server is down, and works again after it returns', async () => {
    const store = new S3Store({ ...server.config, requestTimeoutMs: 2000 });
    await store.put('k/one.json', '1');
    await server.stop();
    try {
      await expect(store.get('k/one.json')).rejects.toThrow();
      await expect(store.put('k/two.json', '2')).rejects.toThrow();
    } finally {
      await server.start();
    }
    expect(Buffer.from((await store.get('k/one.json'))!).toString()).toBe('1');
  });

  it('a missing bucket is an error, not absent content', async () => {
    const store = new S3Store({ ...server.config, bucket: 'no-such-bucket' });
    await expect(store.get('k/one.json')).rejects.toThrow();
  });
});
