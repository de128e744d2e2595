// The dataset store: where large per-instance content lives outside etcd. Two implementations:
// a directory (the local CLI's state directory, the embedded default) and S3-compatible object
// storage (s3-store.ts, the cluster's). Keys are relative paths ("instances/ns/name/<sha>.json").
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join, normalize, relative, sep } from 'node:path';
import type { InstanceRecord, SWEInstanceSpec, SWEInstanceStatus } from '../api/index.ts';
import { parseContent, restoreContent } from './instance-content.ts';
import { parsePrContent, restorePrContent } from './pr-content.ts';

export interface DatasetStore {
  /** Writes the object; writing the same key again replaces it (keys are content-addressed). */
  put(key: string, body: string | Uint8Array): Promise<void>;
  /** The object's bytes, or undefined when there is none under that key. */
  get(key: string): Promise<Uint8Array | undefined>;
  /** Removes the object; a missing one is not an error. */
  delete(key: string): Promise<void>;
  /** Keys under a prefix ending in '/', sorted. */
  list(prefix: string): Promise<string[]>;
  /** For logs and errors: where the store is (never credentials). */
  readonly where: string;
}

/** A key as a path under root; a key that would leave root is refused. */
function pathOf(root: string, key: string): string {
  const rel = normalize(key);
  if (!key || rel.startsWith('..') || rel.startsWith(sep) || rel.split(sep).includes('..'))
    throw new Error(`invalid dataset store key ${JSON.stringify(key)}`);
  return join(root, rel);
}

/** Objects as files under a directory (the local state directory's `store/`). */
export class DirStore implements DatasetStore {
  readonly where: string;
  private readonly root: string;
  constructor(root: string) {
    this.root = root;
    this.where = root;
  }

  async put(key: string, body: string | Uint8Array): Promise<void> {
    const path = pathOf(this.root, key);
    await mkdir(dirname(path), { recursive: true });
    // Write then rename: a reader never sees half an object.
    const tmp = `${path}.${process.pid}.${Date.now()}.tmp`;
    await writeFile(tmp, body);
    await rename(tmp, path);
  }

  async get(key: string): Promise<Uint8Array | undefined> {
    try {
      return await readFile(pathOf(this.root, key));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
  }

  async delete(key: string): Promise<void> {
    await rm(pathOf(this.root, key), { force: true });
  }

  async list(prefix: string): Promise<string[]> {
    const dir = pathOf(this.root, prefix);
    try {
      const entries = await readdir(dir, { recursive: true, withFileTypes: true });
      return entries
        .filter((e) => e.isFile() && !e.name.endsWith('.tmp'))
        .map((e) => relative(this.root, join(e.parentPath, e.name)).split(sep).join('/'))
        .sort();
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
  }
}

/**
 * A status with the content it names read back from the store (unchanged when it names
 * none). Throws when the object is missing or does not match its digest: an export never
 * silently drops an instance's labels.
 */
export async function loadContent(
  store: DatasetStore | undefined,
  status: SWEInstanceStatus,
): Promise<SWEInstanceStatus> {
  const ref = status.content;
  if (!ref) return status;
  if (!store) throw new MissingStoreError(ref.key);
  const body = await store.get(ref.key);
  if (body === undefined) throw new Error(`dataset store object ${ref.key} is missing (${store.where})`);
  return restoreContent(status, parseContent(ref, body));
}

/** A spec with the PR content it names read back from the store (unchanged when it names none). */
export async function loadPrContent<S extends SWEInstanceSpec>(
  store: DatasetStore | undefined,
  spec: S,
): Promise<S> {
  const ref = spec.prContent;
  if (!ref) return spec;
  if (!store) throw new MissingStoreError(ref.key, 'spec');
  const body = await store.get(ref.key);
  if (body === undefined) throw new Error(`dataset store object ${ref.key} is missing (${store.where})`);
  return restorePrContent(spec, parsePrContent(ref, body));
}

/** An instance record whole again: its spec's PR content and its status's content from the store. */
export async function loadRecordContent(
  store: DatasetStore | undefined,
  record: InstanceRecord,
): Promise<InstanceRecord> {
  const [spec, status] = await Promise.all([
    loadPrContent(store, record.spec),
    record.status && loadContent(store, record.status),
  ]);
  return { ...record, spec, ...(status && { status }) };
}

export class MissingStoreError extends Error {
  constructor(key: string, where: 'status' | 'spec' = 'status') {
    super(`${where} names dataset store object ${key}, but no dataset store is configured`);
  }
}
