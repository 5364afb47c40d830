// A throw-away PKI made with the openssl CLI: one CA and server certificates signed by it (EC P-256, 2 days).
//
//   const pki = await makePki();           // temp dir, removed at process exit
//   pki.caFile / pki.caPem                  // the CA certificate
//   pki.server.certFile / keyFile / certPem / keyPem
//                                           // for localhost, 127.0.0.1, *.example.test, example.test
//   pki.issue('other', ['DNS:other.test'])  // another leaf, same shape
//   pki.untrusted                           // a leaf from a different CA (for "unknown CA" tests)

import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
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

/**
 * Client-certificate PKI (for downstream mTLS and upstream client certificates), in a fresh temp dir:
 *   const cp = makeClientPki();
 *   const root = cp.ca('root');                    // a self-signed CA: { name, certFile, keyFile, certPem, chainPem }
 *   const mid = cp.ca('mid', root);                // an intermediate CA signed by `root`
 *   const alice = cp.client('alice', mid, ['email:alice@example.com'])
 *        // a clientAuth leaf: certFile, keyFile, certPem (leaf only), keyPem, chainPem (leaf + intermediates),
 *        // fingerprint (lower-case hex SHA-256 of the DER), spkiHash (base64 SHA-256 of the SPKI)
 *   cp.crl(root, [alice])                          // PEM CRL signed by `root` revoking the given leaves
 */
export function makeClientPki() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'postern-client-pki-'));
  registerCleanupDir(dir);
  const read = (f) => fs.readFileSync(f, 'utf8');
  const sign = (name, issuer, extLines) => {
    fs.writeFileSync(path.join(dir, `${name}.ext`), [...extLines, ''].join('\n'));
    openssl(['req', ...EC, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name}`], dir);
    openssl(
      ['x509', '-req', '-in', `${name}.csr`, '-CA', issuer.certFile, '-CAkey', issuer.keyFile, '-CAcreateserial',
        '-out', `${name}.crt`, '-days', '2', '-extfile', `${name}.ext`],
      dir,
    );
    const certFile = path.join(dir, `${name}.crt`);
    const keyFile = path.join(dir, `${name}.key`);
    const certPem = read(certFile);
    return { name, certFile, keyFile, certPem, keyPem: read(keyFile), chainPem: certPem + (issuer.chainPem ?? '') };
  };
  return {
    dir,
    ca(name, parent) {
      if (!parent) {
        const c = makeCa(dir, name);
        return { name, ...c, certPem: read(c.certFile), chainPem: '' };
      }
      const c = sign(name, parent, [
        'basicConstraints=critical,CA:TRUE',
        'keyUsage=critical,keyCertSign,cRLSign',
        'subjectKeyIdentifier=hash',
        'authorityKeyIdentifier=keyid',
      ]);
      return c;
    },
    client(name, issuer, sans = []) {
      const leaf = sign(name, issuer, [
        ...(sans.length ? [`subjectAltName=${sans.join(',')}`] : []),
        'basicConstraints=CA:FALSE',
        'keyUsage=critical,digitalSignature',
        'extendedKeyUsage=clientAuth',
        'subjectKeyIdentifier=hash',
        'authorityKeyIdentifier=keyid',
      ]);
      const x = new crypto.X509Certificate(leaf.certPem);
      leaf.fingerprint = crypto.createHash('sha256').update(x.raw).digest('hex');
      const spki = x.publicKey.export({ type: 'spki', format: 'der' });
      leaf.spkiHash = crypto.createHash('sha256').update(spki).digest('base64');
      return leaf;
    },
    crl(issuer, revoked = []) {
      const base = path.join(dir, `${issuer.name}-crl`);
      fs.writeFileSync(`${base}.index`, '');
      fs.writeFileSync(`${base}.number`, '01\n');
      fs.writeFileSync(
        `${base}.cnf`,
        ['[ca]', 'default_ca = d', '[d]', `database = ${base}.index`, `crlnumber = ${base}.number`,
          'default_md = sha256', 'default_crl_days = 2', ''].join('\n'),
      );
      const ca = ['-config', `${base}.cnf`, '-cert', issuer.certFile, '-keyfile', issuer.keyFile];
      for (const leaf of revoked) openssl(['ca', ...ca, '-revoke', leaf.certFile], dir);
      openssl(['ca', ...ca, '-gencrl', '-out', `${base}.pem`], dir);
      return read(`${base}.pem`);
    },
  };
}
