/**
 * Recipe memory shared by later local runs of a repository: one JSON file per repository in
 * a directory the user names (`scaleswe run --recipe-memory <dir>`). Within one run the state
 * directory's own instances are the memory; this file carries it across state directories.
 */
import { join } from 'node:path';
import { z } from 'zod';
import { RememberedRecipe } from '../api/index.ts';
import { readJsonIfExists, writeFileAtomic } from './atomic.ts';

const MemoryFile = z.array(RememberedRecipe);

function fileOf(dir: string, repo: string): string {
  return join(dir, `${repo.replace('/', '__')}.json`);
}

/** Remembered recipes of `repo`; an unreadable file is an empty memory (it is only a hint). */
export async function loadRecipeMemory(dir: string, repo: string): Promise<RememberedRecipe[]> {
  const parsed = MemoryFile.safeParse(await readJsonIfExists(fileOf(dir, repo)).catch(() => undefined));
  return parsed.success ? parsed.data : [];
}

let writes: Promise<unknown> = Promise.resolve();

/** Adds (or replaces) one instance's recipe; writes are serialised within the process. */
export function recordRecipe(dir: string, repo: string, entry: RememberedRecipe): Promise<void> {
  const write = writes.then(async () => {
    const kept = (await loadRecipeMemory(dir, repo)).filter((e) => e.instanceId !== entry.instanceId);
    await writeFileAtomic(fileOf(dir, repo), `${JSON.stringify([...kept, entry], null, 1)}\n`);
  });
  writes = write.catch(() => undefined);
  return write;
}
