// TLS on both sides: downstream certificates (files, base64, `certificates` with SNI), TLS 1.2+, HSTS, and
// upstream https verification (custom CA as base64 or file, skip-verify, SNI from tls_server_name or the `to` host).

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import tls from 'node:tls';
import { startPostern, startUpstream, publicRoute, makePki, b64 } from './lib/index.mjs';

const HSTS = 'max-age=31536000; includeSubDomains; preload';

function handshake({ port, servername, ca, ...extra }) {
  return new Promise((resolve, reject) => {
    const s = tls.connect({ host: '127.0.0.1', port, servername, ca, ...extra }, () => {
      const cert = s.getPeerCertificate();
      const info = { protocol: s.getProtocol(), cert, authorized: s.authorized };
      s.end();
      resolve(info);
    });
    s.once('error', reject);
  });
}

describe('downstream TLS', { concurrency: true }, () => {
  let pki, up, other;
  before(async () => {
    pki = makePki();
    other = pki.issue('other', ['DNS:other.test'], 'other.test');
    up = await startUpstream({ name: 'tls-down' });
  });
  after(() => up?.stop());

  const routes = () => [publicRoute('https://app.example.test', up.origin), publicRoute('https://other.test', up.origin)];

  it('serves https with certificate_file/certificate_key_file, sends HSTS and X-Forwarded-Proto https', async (t) => {
    const p = await startPostern({
      config: {
        address: '127.0.0.1:0',
        certificate_file: pki.server.certFile,
        certificate_key_file: pki.server.keyFile,
        routes: routes(),
      },
      ca: pki.caPem,
      t,
    });
    assert.equal(p.tls, true, 'the listening line says tls: true');
    const res = await p.request('https://app.example.test/secure');
    assert.equal(res.status, 200);
    assert.equal(res.headers['strict-transport-security'], HSTS);
    assert.equal(res.headers['x-frame-options'], 'SAMEORIGIN');
    const e = res.json();
    assert.equal(e.headers['x-forwarded-proto'], 'https');
    assert.equal(e.path, '/secure');
    const ping = await p.request('https://app.example.test/ping');
    assert.equal(ping.headers['strict-transport-security'], HSTS, 'HSTS on every response');
  });

  it('accepts base64 PEM in certificate/certificate_key', async (t) => {
    const p = await startPostern({
      config: {
        address: '127.0.0.1:0',
        certificate: b64(pki.server.certPem),
        certificate_key: b64(pki.server.keyPem),
        routes: routes(),
      },
      ca: pki.caPem,
      t,
    });
    const res = await p.request('https://app.example.test/');
    assert.equal(res.status, 200);
  });

  it('picks the certificate by SNI from `certificates`', async (t) => {
    const p = await startPostern({
      config: {
        address: '127.0.0.1:0',
        certificates: [
          { cert: pki.server.certFile, key: pki.server.keyFile },
          { cert: other.certFile, key: other.keyFile },
        ],
        routes: routes(),
      },
      ca: pki.caPem,
      t,
    });
    const a = await handshake({ port: p.port, servername: 'app.example.test', ca: pki.caPem });
    assert.equal(a.authorized, true);
    assert.match(a.cert.subjectaltname, /\*\.example\.test/);
    const o = await handshake({ port: p.port, servername: 'other.test', ca: pki.caPem });
    assert.equal(o.authorized, true);
    assert.match(o.cert.subjectaltname, /DNS:other\.test/);
    const res = await p.request('https://other.test/');
    assert.equal(res.status, 200);
  });

  it('speaks TLS 1.2 and 1.3 but refuses TLS 1.1', async (t) => {
    const p = await startPostern({
      config: {
        address: '127.0.0.1:0',
        certificate_file: pki.server.certFile,
        certificate_key_file: pki.server.keyFile,
        routes: routes(),
      },
      ca: pki.caPem,
      t,
    });
    const base = { port: p.port, servername: 'app.example.test', ca: pki.caPem };
    assert.equal((await handshake({ ...base, minVersion: 'TLSv1.2', maxVersion: 'TLSv1.2' })).protocol, 'TLSv1.2');
    assert.equal((await handshake({ ...base, minVersion: 'TLSv1.3' })).protocol, 'TLSv1.3');
    await assert.rejects(
      handshake({ ...base, minVersion: 'TLSv1', maxVersion: 'TLSv1.1', ciphers: 'DEFAULT@SECLEVEL=0' }),
      (err) => {
        assert.doesNotMatch(String(err.code), /ERR_SSL_NO_PROTOCOLS_AVAILABLE|ERR_TLS_INVALID_PROTOCOL_VERSION/, 'the client itself could not offer TLS 1.1');
        return true;
      },
    );
  });
});

describe('upstream TLS', { concurrency: true }, () => {
  let pki, secure, untrusted, p;
  before(async () => {
    pki = makePki();
    [secure, untrusted] = await Promise.all([
      startUpstream({ tls: pki.server, name: 'secure' }),
      startUpstream({ tls: pki.untrusted, name: 'untrusted' }),
    ]);
    p = await startPostern({
      config: {
        address: '127.0.0.1:0',
        insecure_server: true,
        routes: [
          publicRoute('http://noca.example.test', `https://localhost:${secure.port}`),
          publicRoute('http://ca.example.test', `https://localhost:${secure.port}`, { tls_custom_ca: b64(pki.caPem) }),
          publicRoute('http://cafile.example.test', `https://localhost:${secure.port}`, { tls_custom_ca_file: pki.caFile }),
          publicRoute('http://sni.example.test', `https://127.0.0.1:${secure.port}`, {
            tls_custom_ca: b64(pki.caPem),
            tls_server_name: 'svc.example.test',
          }),
          publicRoute('http://wrongca.example.test', `https://localhost:${untrusted.port}`, { tls_custom_ca: b64(pki.caPem) }),
          publicRoute('http://skip.example.test', `https://localhost:${untrusted.port}`, { tls_skip_verify: true }),
        ],
      },
    });
  });
  after(async () => {
    await p?.stopAndCheck();
    await Promise.all([secure?.stop(), untrusted?.stop()]);
  });

  it('refuses an upstream certificate no trusted CA signed (502)', async () => {
    assert.equal((await p.request('http://noca.example.test/')).status, 502);
    assert.equal((await p.request('http://wrongca.example.test/')).status, 502);
  });

  it('trusts tls_custom_ca (base64 PEM) and sends the `to` host as SNI', async () => {
    const res = await p.request('http://ca.example.test/x?y=1');
    assert.equal(res.status, 200, res.text.slice(0, 300));
    const e = res.json();
    assert.equal(e.name, 'secure');
    assert.equal(e.tls_servername, 'localhost');
    assert.equal(e.path, '/x?y=1');
    assert.equal(e.headers['x-forwarded-proto'], 'http', 'the downstream scheme, not the upstream one');
  });

  it('trusts tls_custom_ca_file', async () => {
    const res = await p.request('http://cafile.example.test/');
    assert.equal(res.status, 200, res.text.slice(0, 300));
  });

  it('sends tls_server_name as SNI and verifies against it', async () => {
    const res = await p.request('http://sni.example.test/');
    assert.equal(res.status, 200, res.text.slice(0, 300));
    assert.equal(res.json().tls_servername, 'svc.example.test');
  });

  it('tls_skip_verify accepts any certificate', async () => {
    const res = await p.request('http://skip.example.test/');
    assert.equal(res.status, 200, res.text.slice(0, 300));
    assert.equal(res.json().name, 'untrusted');
  });
});
