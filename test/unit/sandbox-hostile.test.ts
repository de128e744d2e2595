// A hostile repository through the real CLI and its bubblewrap sandbox: its setup.py (run by
// the install), conftest.py and a test try to read the user's kubeconfig, SSH key and a file in
// HOME, to read a secret from the environment and to reach a TCP service on the host's
// loopback. Each attempt is written where the test can read it (the stage's own HOME); all must
// be denied, the PR must still verify, and no secret may reach the state directory.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../support/cli.ts';

const scratch = mkdtempSync(join(tmpdir(), 'scaleswe-hostile-'));
const home = join(scratch, 'home');
const repo = join(scratch, 'hostile');
const state = join(scratch, 'state');
const SECRETS = {
  kube: 'kube-token-3f9a1c7e5d',
  ssh: 'ssh-private-key-8b2d4e6f0a',
  home: 'home-notes-secret-1c3e5a7b9d',
  aws: 'aws-secret-6e8a0c2e4f',
};
const planted = {
  kube: join(home, '.kube', 'config'),
  ssh: join(home, '.ssh', 'id_rsa'),
  home: join(home, 'notes.txt'),
};
const connections: string[] = [];
const sockets = new Set<Socket>();
const service = createServer((socket) => {
  sockets.add(socket);
  socket.on('data', (d) => connections.push(String(d)));
  socket.on('close', () => sockets.delete(socket));
});
let port = 0;

function git(...args: string[]): void {
  execFileSync('git', ['-c', 'init.defaultBranch=main', '-c', 'commit.gpgsign=false', ...args], {
    cwd: repo,
    env: {
      ...process.env,
      GIT_AUTHOR_NAME: 'Mallory',
      GIT_AUTHOR_EMAIL: 'm@example.com',
      GIT_COMMITTER_NAME: 'Mallory',
      GIT_COMMITTER_EMAIL: 'm@example.com',
    },
  });
}

function write(path: string, text: string): void {
  mkdirSync(join(path, '..'), { recursive: true });
  writeFileSync(path, text);
}

/** The probe every hook calls: one JSON line per attempt, into $HOME/probe.jsonl. */
function probeSource(): string {
  return `import json, os, socket

TARGETS = ${JSON.stringify([...Object.values(planted), '/root/.kube/config', '/root/.ssh/id_rsa'])}
PORT = ${port}

def probe(phase):
    seen = []
    for path in TARGETS + [os.path.expanduser('~/.kube/config')]:
        try:
            with open(path) as f:
                seen.append({'phase': phase, 'what': 'read', 'target': path, 'ok': True, 'got': f.read()})
        except Exception as e:
            seen.append({'phase': phase, 'what': 'read', 'target': path, 'ok': False, 'got': type(e).__name__})
    secret = os.environ.get('AWS_SECRET_ACCESS_KEY')
    seen.append({'phase': phase, 'what': 'env', 'ok': secret is not None, 'got': secret or '', 'kubeconfig': os.environ.get('KUBECONFIG')})
    try:
        s = socket.create_connection(('127.0.0.1', PORT), timeout=5)
        s.sendall(phase.encode())
        s.close()
        seen.append({'phase': phase, 'what': 'loopback', 'ok': True, 'got': 'connected'})
    except Exception as e:
        seen.append({'phase': phase, 'what': 'loopback', 'ok': False, 'got': type(e).__name__})
    with open(os.path.join(os.environ.get('HOME', '/tmp'), 'probe.jsonl'), 'a') as out:
        for line in seen:
            out.write(json.dumps(line) + '\\n')
`;
}

function buildHostileRepo(): void {
  mkdirSync(repo, { recursive: true });
  git('init', '-q');
  write(
    join(repo, 'pyproject.toml'),
    `[build-system]
requires = ["setuptools>=61"]
build-backend = "setuptools.build_meta"

[project]
name = "hostile"
version = "0.1.0"
requires-python = ">=3.8"

[project.optional-dependencies]
test = ["pytest"]

[tool.setuptools]
py-modules = ["calc", "hostile_probe"]
`,
  );
  write(
    join(repo, 'setup.py'),
    `import os, sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hostile_probe import probe
probe('setup')
from setuptools import setup
setup()
`,
  );
  write(join(repo, 'hostile_probe.py'), probeSource());
  write(join(repo, 'calc.py'), 'def double(x):\n    return x + x + 1\n');
  write(join(repo, 'conftest.py'), "from hostile_probe import probe\n\nprobe('conftest')\n");
  write(
    join(repo, 'tests', 'test_calc.py'),
    "from hostile_probe import probe\nfrom calc import double\n\n\ndef test_probe():\n    probe('test')\n\n\ndef test_double_zero():\n    assert double(0) >= 0\n",
  );
  git('add', '-A');
  git('commit', '-q', '-m', 'Initial commit');
  write(join(repo, 'calc.py'), 'def double(x):\n    return x + x\n');
  write(
    join(repo, 'tests', 'test_calc.py'),
    `${readFileSync(join(repo, 'tests', 'test_calc.py'), 'utf8')}\n\ndef test_double_two():\n    assert double(2) == 4\n`,
  );
  git('commit', '-q', '-a', '-m', 'Fix double (#1)\n\ndouble added one too many.');
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    const st = statSync(path, { throwIfNoEntry: false });
    if (!st) return [];
    return st.isDirectory() ? filesUnder(path) : st.isFile() ? [path] : [];
  });
}

beforeAll(async () => {
  await new Promise<void>((r) => service.listen(0, '127.0.0.1', r));
  port = (service.address() as { port: number }).port;
  write(planted.kube, `apiVersion: v1\nusers:\n- name: admin\n  user:\n    token: ${SECRETS.kube}\n`);
  write(
    planted.ssh,
    `-----BEGIN OPENSSH PRIVATE KEY-----\n${SECRETS.ssh}\n-----END OPENSSH PRIVATE KEY-----\n`,
  );
  write(planted.home, `${SECRETS.home}\n`);
  buildHostileRepo();
}, 120_000);
afterAll(() => {
  for (const s of sockets) s.destroy();
  service.close();
  rmSync(scratch, { recursive: true, force: true });
}, 120_000);

interface Probe {
  phase: string;
  what: string;
  target?: string;
  ok: boolean;
  got: string;
}

describe('a hostile repository in the local sandbox', () => {
  it('reads no credentials, no HOME file, no secret variable, and reaches no loopback service, in setup or tests', async () => {
    const r = await runCli(['run', '--git', repo, '--state-dir', state, '--isolation', 'bwrap'], {
      ...process.env,
      HOME: home,
      KUBECONFIG: planted.kube,
      AWS_SECRET_ACCESS_KEY: SECRETS.aws,
    });
    expect(r.code, `${r.out}\n${r.err}`).toBe(0);
    // The sandbox does not break an ordinary PR: it still verifies.
    expect(r.out).toContain('1 Verified');

    const probes: Probe[] = filesUnder(join(state, 'work'))
      .filter((f) => f.endsWith('probe.jsonl'))
      .flatMap((f) =>
        readFileSync(f, 'utf8')
          .trim()
          .split('\n')
          .map((l) => JSON.parse(l) as Probe),
      );
    const phases = new Set(probes.map((p) => p.phase));
    expect([...phases].sort()).toEqual(['conftest', 'setup', 'test']);

    const reads = probes.filter((p) => p.what === 'read');
    expect(reads.filter((p) => p.ok).map((p) => `${p.phase} read ${p.target}`)).toEqual([]);
    expect(
      reads.every((p) => p.got === 'FileNotFoundError'),
      JSON.stringify(reads),
    ).toBe(true);
    const env = probes.filter((p) => p.what === 'env');
    expect(env.filter((p) => p.ok).map((p) => `${p.phase} saw the secret`)).toEqual([]);

    // No phase reaches the host's loopback service: test code runs with loopback only, setup
    // (the install running setup.py) through slirp4netns with the host's loopback cut off.
    const loopback = probes.filter((p) => p.what === 'loopback');
    expect([...new Set(loopback.map((p) => p.phase))].sort()).toEqual(['conftest', 'setup', 'test']);
    expect(loopback.filter((p) => p.ok)).toEqual([]);
    expect(connections).toEqual([]);

    // Nothing secret anywhere in the state directory (results, instances, logs, caches, export).
    for (const file of filesUnder(state)) {
      const content = readFileSync(file);
      for (const [name, secret] of Object.entries(SECRETS))
        expect(content.includes(secret), `${name} secret in ${file}`).toBe(false);
    }
  }, 900_000);
});
