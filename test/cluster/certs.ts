// Cluster PKI with openssl: one CA, the apiserver serving cert, client certs per component,
// and the service-account signing key. ECDSA P-256 keys (fast to generate, supported everywhere).
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { run } from './lib.ts';

export interface Pki {
  dir: string;
  caCert: string;
  caKey: string;
  apiserverCert: string;
  apiserverKey: string;
  saKey: string;
  saPub: string;
}

export interface ClientCert {
  cert: string;
  key: string;
}

function genKey(path: string): void {
  run('openssl', ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', path]);
}

function sign(dir: string, name: string, subj: string, ext: string, pki: { caCert: string; caKey: string }) {
  const key = join(dir, `${name}.key`);
  const csr = join(dir, `${name}.csr`);
  const cert = join(dir, `${name}.crt`);
  const extFile = join(dir, `${name}.ext`);
  genKey(key);
  run('openssl', ['req', '-new', '-key', key, '-subj', subj, '-out', csr]);
  writeFileSync(extFile, ext);
  run('openssl', [
    'x509',
    '-req',
    '-in',
    csr,
    '-CA',
    pki.caCert,
    '-CAkey',
    pki.caKey,
    '-CAcreateserial',
    '-days',
    '365',
    '-sha256',
    '-extfile',
    extFile,
    '-out',
    cert,
  ]);
  return { cert, key };
}

const CLIENT_EXT =
  'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=clientAuth\n';

/** Creates the CA, apiserver serving cert and SA key pair once; later calls reuse them. */
export function ensurePki(dir: string, sans: { ips: string[]; dns: string[] }): Pki {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const caCert = join(dir, 'ca.crt');
  const caKey = join(dir, 'ca.key');
  if (!existsSync(caCert)) {
    genKey(caKey);
    run('openssl', [
      'req',
      '-x509',
      '-new',
      '-key',
      caKey,
      '-subj',
      '/CN=scaleswe-test-ca',
      '-days',
      '3650',
      '-sha256',
      '-addext',
      'basicConstraints=critical,CA:TRUE',
      '-addext',
      'keyUsage=critical,keyCertSign,cRLSign,digitalSignature',
      '-out',
      caCert,
    ]);
  }
  const ca = { caCert, caKey };
  const apiserverCert = join(dir, 'apiserver.crt');
  if (!existsSync(apiserverCert)) {
    const san = [...sans.ips.map((ip) => `IP:${ip}`), ...sans.dns.map((d) => `DNS:${d}`)].join(',');
    sign(
      dir,
      'apiserver',
      '/CN=kube-apiserver',
      `basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\nsubjectAltName=${san}\n`,
      ca,
    );
  }
  const saKey = join(dir, 'sa.key');
  const saPub = join(dir, 'sa.pub');
  if (!existsSync(saPub)) {
    genKey(saKey);
    run('openssl', ['pkey', '-in', saKey, '-pubout', '-out', saPub]);
  }
  return { dir, caCert, caKey, apiserverCert, apiserverKey: join(dir, 'apiserver.key'), saKey, saPub };
}

/** A client certificate: CN is the user, O the groups. */
export function ensureClientCert(pki: Pki, name: string, cn: string, orgs: string[] = []): ClientCert {
  const cert = join(pki.dir, `${name}.crt`);
  const key = join(pki.dir, `${name}.key`);
  if (existsSync(cert) && existsSync(key)) return { cert, key };
  const subj = `${orgs.map((o) => `/O=${o}`).join('')}/CN=${cn}`;
  return sign(pki.dir, name, subj, CLIENT_EXT, pki);
}
