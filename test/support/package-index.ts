import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';

/** One release of a tiny pure-Python package: its module source and when it was "uploaded". */
export interface Release {
  name: string;
  version: string;
  /** Source of `<name>/__init__.py`. */
  source: string;
  uploadTime: string;
}

export interface PackageIndex {
  /** The simple API root, e.g. http://127.0.0.1:1234/simple */
  url: string;
  /** Paths of the project pages that were requested (what the installers asked for). */
  requested: string[];
  close(): Promise<void>;
}

/**
 * Builds a wheel by hand: a zip with the module, METADATA, WHEEL and a RECORD of sha256
 * hashes (Python's zipfile writes it; the test machine has Python anyway).
 */
function buildWheel(dir: string, r: Release): string {
  const file = `${r.name}-${r.version}-py3-none-any.whl`;
  const script = `
import base64, hashlib, sys, zipfile
name, version, out, source = sys.argv[1:5]
di = "%s-%s.dist-info" % (name, version)
files = {
    "%s/__init__.py" % name: source,
    di + "/METADATA": "Metadata-Version: 2.1\\nName: %s\\nVersion: %s\\n" % (name, version),
    di + "/WHEEL": "Wheel-Version: 1.0\\nGenerator: scaleswe-test\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n",
}
record = []
with zipfile.ZipFile(out, "w") as z:
    for path, text in files.items():
        data = text.encode()
        z.writestr(path, data)
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append("%s,sha256=%s,%d" % (path, digest, len(data)))
    record.append(di + "/RECORD,,")
    z.writestr(di + "/RECORD", "\\n".join(record) + "\\n")
`;
  execFileSync('python3', ['-c', script, r.name, r.version, path.join(dir, file), r.source]);
  return file;
}

/**
 * A package index speaking the real simple API (PEP 691 JSON with PEP 700 `upload-time`),
 * serving the given releases as wheels built in `dir`. Unknown projects are 404, so
 * installers go on to their next index.
 */
export async function startPackageIndex(dir: string, releases: Release[]): Promise<PackageIndex> {
  const files = new Map<string, { release: Release; sha256: string; size: number }>();
  for (const r of releases) {
    const file = buildWheel(dir, r);
    const bytes = await readFile(path.join(dir, file));
    files.set(file, {
      release: r,
      sha256: createHash('sha256').update(bytes).digest('hex'),
      size: bytes.length,
    });
  }
  const requested: string[] = [];
  let base = '';
  const server: Server = createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://index');
    const project = /^\/simple\/([^/]+)\/?$/
      .exec(url.pathname)?.[1]
      ?.toLowerCase()
      .replace(/[-_.]+/g, '-');
    if (project) {
      requested.push(project);
      const mine = [...files].filter(([, f]) => f.release.name.replace(/[-_.]+/g, '-') === project);
      if (!mine.length) {
        res.writeHead(404).end('not found');
        return;
      }
      res.writeHead(200, { 'content-type': 'application/vnd.pypi.simple.v1+json' });
      res.end(
        JSON.stringify({
          meta: { 'api-version': '1.1' },
          name: project,
          versions: mine.map(([, f]) => f.release.version),
          files: mine.map(([file, f]) => ({
            filename: file,
            url: `${base}/files/${file}`,
            hashes: { sha256: f.sha256 },
            'upload-time': f.release.uploadTime,
            size: f.size,
          })),
        }),
      );
      return;
    }
    const file = /^\/files\/([^/]+)$/.exec(url.pathname)?.[1];
    if (file && files.has(file)) {
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      res.end(await readFile(path.join(dir, file)));
      return;
    }
    res.writeHead(404).end('not found');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url: `${base}/simple`,
    requested,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
