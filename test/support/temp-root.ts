// Global setup of every tier: the run's temporary files (fixture repositories, prepared
// environments, mutant workspaces: gigabytes per run) go under one directory of their own,
// removed when the run ends. Tests that forget to clean up then cost nothing, and a machine
// that runs the suite again and again (CI) does not fill its disk.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export default function setup(): () => void {
  const previous = process.env.TMPDIR;
  // Workers and the processes they start read TMPDIR (os.tmpdir(), mktemp, pip, go).
  const root = mkdtempSync(join(tmpdir(), 'scaleswe-test-run-'));
  process.env.TMPDIR = root;
  return () => {
    if (previous === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = previous;
    if (process.env.SCALESWE_KEEP_TMP !== '1') rmSync(root, { recursive: true, force: true, maxRetries: 5 });
  };
}
