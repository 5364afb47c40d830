// A throw-away PKI made with the openssl CLI: one CA and server certificates signed by it (EC P-256, 2 days).
//
//   const pki = await makePki();           // temp dir, removed at process exit
//   pki.caFile / pki.caPem                  // the CA certificate
//   pki.server.certFile / keyFile / certPem / keyPem
//                                           // for localhost, 127.0.0.1, *.example.test, example.test
//   pki.issue('other', ['DNS:other.test'])  // another leaf, same shape
//   pki.untrusted                           // a leaf from a different CA (for "unknown CA" tests)

import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { registerCleanupDir } from './proc.mjs';

function openssl(args, cwd) {
  try {
    execFileSync('openssl', args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    throw new Error(`openssl ${args.join(' ')} failed: ${err.stderr?.toString() || err.message}`);
  }
}

const EC = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

function makeCa(dir, name) {
  openssl(
    [
      'req', '-x509', ...EC, '-keyout', `${name}.key`, '-out', `${name}.crt`, '-days', '2',
      '-subj', `/CN=Postern Test CA ${name}`,
      '-addext', 'basicConstraints=critical,CA:TRUE',
      '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
    ],
    dir,
  );
  return { certFile: path.join(dir, `${name}.crt`), keyFile: path.join(dir, `${name}.key`) };
}

function issueLeaf(dir, ca, name, sans, cn) {
  const ext = path.join(dir, `${name}.ext`);
  fs.writeFileSync(
    ext,
    [
      `subjectAltName=${sans.join(',')}`,
      'basicConstraints=CA:FALSE',
      'keyUsage=critical,digitalSignature,keyEncipherment',
      'extendedKeyUsage=serverAuth',
      '',
    ].join('\n'),
  );
  openssl(['req', ...EC, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${cn}`], dir);
  openssl(
    [
      'x509', '-req', '-in', `${name}.csr`, '-CA', ca.certFile, '-CAkey', ca.keyFile, '-CAcreateserial',
      '-out', `${name}.crt`, '-days', '2', '-extfile', ext,
    ],
    dir,
  );
  const certFile = path.join(dir, `${name}.crt`);
  const keyFile = path.join(dir, `${name}.key`);
  return {
    certFile,
    keyFile,
    certPem: fs.readFileSync(certFile, 'utf8'),
    keyPem: fs.readFileSync(keyFile, 'utf8'),
  };
}

export const DEFAULT_SANS = ['DNS:localhost', 'IP:127.0.0.1', 'DNS:*.example.test', 'DNS:example.test'];

/** Create a CA and a server certificate (localhost, 127.0.0.1, *.example.test) in a fresh temp dir. */
export function makePki() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'postern-pki-'));
  registerCleanupDir(dir);
  const ca = makeCa(dir, 'ca');
  const server = issueLeaf(dir, ca, 'server', DEFAULT_SANS, 'localhost');
  let untrusted;
  return {
    dir,
    caFile: ca.certFile,
    caPem: fs.readFileSync(ca.certFile, 'utf8'),
    server,
    issue(name, sans, cn = sans[0].replace(/^\w+:/, '')) {
      return issueLeaf(dir, ca, name, sans, cn);
    },
    get untrusted() {
      if (!untrusted) untrusted = issueLeaf(dir, makeCa(dir, 'otherca'), 'untrusted', DEFAULT_SANS, 'localhost');
      return untrusted;
    },
  };
}

export const b64 = (s) => Buffer.from(s).toString('base64');
