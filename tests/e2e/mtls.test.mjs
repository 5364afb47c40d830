// Client certificates on both sides, against the real binary.
// Downstream mTLS (`downstream_mtls`): enforcement policy_with_default_deny (valid cert → the route's own policy;
// missing, foreign-CA or CRL-revoked cert → 495 page, HTML or JSON, with the request id), max_verify_depth with an
// intermediate CA (and intermediates in the bundle as trust anchors), match_subject_alt_names, enforcement `policy`
// (invalid_client_certificate deny → 495; client_certificate fingerprint / spki_hash / san_email allow → 403 when
// unmatched), enforcement reject_connection (no HTTP answer without a valid cert), a route's own
// tls_downstream_client_ca, and set_request_headers templates (${pomerium.client_cert_*}, $$).
// Upstream: tls_client_cert/_key (inline and _file) presented to an https upstream that demands a client certificate
// (502 without), tls_custom_ca replacing the system roots, tls_server_name. Plus `validate` refusing
// client_certificate in a policy when no client CA is configured.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import https from 'node:https';
import { startPostern, startUpstream, runPostern, publicRoute, makePki, makeClientPki, b64 } from './lib/index.mjs';

// One PKI for the whole file: the server certificate (pki) and the client CAs and leaves (cp).
const pki = makePki();
const cp = makeClientPki();
const caA = cp.ca('ca-a');
const caB = cp.ca('ca-b');
const mid = cp.ca('mid-a', caA); // an intermediate under caA
const good = cp.client('good', caA, ['DNS:good.example.test', 'DNS:alt.example.test', 'email:good@example.com', 'email:g2@example.com']);
const revoked = cp.client('revoked', caA, ['email:revoked@example.com']);
const alice = cp.client('alice', caA, ['email:alice@example.com']);
const bob = cp.client('bob', caA, ['email:bob@other.org']);
const foreign = cp.client('foreign', caB, ['email:foreign@example.com']);
const midLeaf = cp.client('mid-leaf', mid, ['email:mid@example.com']);
const crlA = cp.crl(caA, [revoked]);

const cert = (c, pem = c.chainPem) => ({ tls: { cert: pem, key: c.keyPem } });
const JSON_ACCEPT = { accept: 'application/json' };
const HTML_ACCEPT = { accept: 'text/html,application/xhtml+xml,*/*;q=0.8' };

// A TLS listener with the test server certificate plus `extra` config.
const tlsConfig = (extra) => ({
  address: '127.0.0.1:0',
  certificate_file: pki.server.certFile,
  certificate_key_file: pki.server.keyFile,
  ...extra,
});

// Postern on the TLS listener with `extra` config, trusting the test PKI's CA for its requests.
const startTlsPostern = (extra, t) => startPostern({ config: tlsConfig(extra), ca: pki.caPem, t });

function assert495(res, what = '') {
  assert.equal(res.status, 495, `${what}: ${res.status} ${res.text.slice(0, 300)}`);
  assert.equal(res.headers['x-pomerium-intercepted-response'], 'true', what);
}

function assertOk(res, what = '') {
  assert.equal(res.status, 200, `${what}: ${res.status} ${res.text.slice(0, 300)}`);
  return res.json();
}

let up;
before(async () => {
  up = await startUpstream({ name: 'mtls' });
});
after(() => up?.stop());

describe('downstream mTLS, enforcement policy_with_default_deny (the default)', { concurrency: true }, () => {
  let p;
  before(async () => {
    p = await startTlsPostern({
      downstream_mtls: { ca: b64(caA.certPem), crl: b64(crlA) },
      routes: [
        publicRoute('https://app.example.test', up.origin),
        publicRoute('https://headers.example.test', up.origin, {
          set_request_headers: {
            'x-cert-fingerprint': '${pomerium.client_cert_fingerprint}',
            'x-cert-dns': '${pomerium.client_cert_san_dns}',
            'x-cert-email': '${pomerium.client_cert_san_email}',
            'x-literal': 'cost $$5 and $${pomerium.client_cert_fingerprint}',
          },
        }),
      ],
    });
  });
  after(() => p?.stopAndCheck());

  it('a valid client certificate goes on to the route policy (public → 200 from the upstream)', async () => {
    const e = assertOk(await p.request('https://app.example.test/hello', cert(good)), 'good cert');
    assert.equal(e.name, 'mtls');
    assert.equal(e.path, '/hello');
  });

  it('no certificate → 495 HTML page with the request id', async () => {
    const res = await p.request('https://app.example.test/', { headers: HTML_ACCEPT });
    assert495(res, 'no cert');
    assert.match(res.headers['content-type'] || '', /text\/html/);
    const id = res.headers['x-request-id'];
    assert.ok(id, 'X-Request-Id on the 495');
    assert.ok(res.text.includes(id), `the page shows the request id ${id}:\n${res.text.slice(0, 1000)}`);
  });

  it('no certificate → 495 JSON when the client prefers application/json', async () => {
    const res = await p.request('https://app.example.test/api', { headers: JSON_ACCEPT });
    assert495(res, 'no cert, JSON');
    assert.match(res.headers['content-type'] || '', /application\/json/);
    const body = res.json();
    assert.equal(body.status, 495);
    assert.equal(body.request_id, res.headers['x-request-id']);
    assert.equal(typeof body.error, 'string');
  });

  it('a certificate from a CA outside the bundle → 495', async () => {
    assert495(await p.request('https://app.example.test/', cert(foreign)), 'foreign CA');
  });

  it('a certificate revoked by the CRL → 495, while a non-revoked one from the same CA → 200', async () => {
    assert495(await p.request('https://app.example.test/', cert(revoked)), 'revoked');
    assertOk(await p.request('https://app.example.test/', cert(alice)), 'alice, same CA, not revoked');
  });

  it('set_request_headers templates carry the fingerprint and SANs; $$ is a literal $', async () => {
    const h = assertOk(await p.request('https://headers.example.test/', cert(good)), 'templates').headers;
    assert.equal(h['x-cert-fingerprint'], good.fingerprint);
    assert.equal(h['x-cert-dns'], 'good.example.test,alt.example.test');
    assert.equal(h['x-cert-email'], 'good@example.com,g2@example.com');
    assert.equal(h['x-literal'], 'cost $5 and ${pomerium.client_cert_fingerprint}');
  });

  it('templates on a request without a certificate never reach the upstream (495)', async () => {
    assert495(await p.request('https://headers.example.test/'), 'no cert on the templates route');
  });
});

describe('downstream mTLS, max_verify_depth and intermediates', { concurrency: true }, () => {
  const start = (t, mtls) =>
    startTlsPostern({ downstream_mtls: mtls, routes: [publicRoute('https://app.example.test', up.origin)] }, t);

  it('default depth (1): a leaf issued by an intermediate (sent in the chain, bundle = root) → 495', async (t) => {
    const p = await start(t, { ca: b64(caA.certPem) });
    assert495(await p.request('https://app.example.test/', cert(midLeaf)), 'intermediate leaf at depth 1');
    assertOk(await p.request('https://app.example.test/', cert(good)), 'direct leaf at depth 1');
  });

  it('max_verify_depth: 2 accepts the same leaf + intermediate chain → 200', async (t) => {
    const p = await start(t, { ca: b64(caA.certPem), max_verify_depth: 2 });
    assertOk(await p.request('https://app.example.test/', cert(midLeaf)), 'intermediate leaf at depth 2');
    assertOk(await p.request('https://app.example.test/', cert(good)), 'direct leaf at depth 2');
  });

  it('max_verify_depth: 0 means no limit', async (t) => {
    const p = await start(t, { ca: b64(caA.certPem), max_verify_depth: 0 });
    assertOk(await p.request('https://app.example.test/', cert(midLeaf)), 'intermediate leaf, no limit');
  });

  it('an intermediate in the bundle is a trust anchor: depth 1 accepts its leaf; the root\'s direct leaf is refused', async (t) => {
    const p = await start(t, { ca: b64(mid.certPem) });
    assertOk(await p.request('https://app.example.test/', cert(midLeaf, midLeaf.certPem)), 'leaf only');
    assertOk(await p.request('https://app.example.test/', cert(midLeaf)), 'leaf + intermediate');
    assert495(await p.request('https://app.example.test/', cert(good)), 'a leaf of the root, which is not in the bundle');
  });
});

describe('downstream mTLS, match_subject_alt_names', { concurrency: true }, () => {
  let p;
  before(async () => {
    p = await startTlsPostern({
      downstream_mtls: { ca: b64(caA.certPem), match_subject_alt_names: [{ email: '.*@example\\.com' }] },
      routes: [publicRoute('https://app.example.test', up.origin)],
    });
  });
  after(() => p?.stopAndCheck());

  it('a SAN email matching the pattern → 200', async () => {
    assertOk(await p.request('https://app.example.test/', cert(alice)), 'alice@example.com');
  });

  it('a SAN email not matching → 495', async () => {
    assert495(await p.request('https://app.example.test/', cert(bob)), 'bob@other.org');
  });

  it('the pattern must match the whole SAN (example.com.evil.org is not example.com)', async () => {
    const sneaky = cp.client('sneaky', caA, ['email:eve@example.com.evil.org']);
    assert495(await p.request('https://app.example.test/', cert(sneaky)), 'eve@example.com.evil.org');
  });
});

describe('downstream mTLS, enforcement policy', { concurrency: true }, () => {
  let p;
  before(async () => {
    const allowCert = (m) => ({ allow: { and: [{ client_certificate: m }] } });
    p = await startTlsPostern({
      downstream_mtls: { ca: b64(caA.certPem), enforcement: 'policy' },
      routes: [
        publicRoute('https://open.example.test', up.origin),
        publicRoute('https://deny.example.test', up.origin, {
          policy: { deny: { or: [{ invalid_client_certificate: true }] } },
        }),
        { from: 'https://fp.example.test', to: up.origin, policy: allowCert({ fingerprint: alice.fingerprint }) },
        {
          from: 'https://fpcolons.example.test',
          to: up.origin,
          policy: allowCert({ fingerprint: alice.fingerprint.match(/../g).join(':') }),
        },
        { from: 'https://spki.example.test', to: up.origin, policy: allowCert({ spki_hash: [bob.spkiHash] }) },
        { from: 'https://san.example.test', to: up.origin, policy: allowCert({ san_email: { ends_with: '@other.org' } }) },
      ],
    });
  });
  after(() => p?.stopAndCheck());

  it('a route without client-certificate rules works without a certificate (no default deny)', async () => {
    assertOk(await p.request('https://open.example.test/'), 'open, no cert');
    assertOk(await p.request('https://open.example.test/', cert(foreign)), 'open, foreign cert');
  });

  it('deny invalid_client_certificate → 495 without a valid certificate, 200 with one', async () => {
    assert495(await p.request('https://deny.example.test/'), 'no cert');
    assert495(await p.request('https://deny.example.test/', cert(foreign)), 'foreign cert');
    assertOk(await p.request('https://deny.example.test/', cert(good)), 'good cert');
  });

  it('client_certificate fingerprint allows that certificate and denies another valid one with 403', async () => {
    assertOk(await p.request('https://fp.example.test/', cert(alice)), 'alice on fp');
    assert.equal((await p.request('https://fp.example.test/', cert(good))).status, 403, 'good on fp');
    assertOk(await p.request('https://fpcolons.example.test/', cert(alice)), 'alice on fp with colons');
    assert.equal((await p.request('https://fpcolons.example.test/', cert(bob))).status, 403, 'bob on fp with colons');
  });

  it('client_certificate spki_hash (list) and san_email matchers', async () => {
    assertOk(await p.request('https://spki.example.test/', cert(bob)), 'bob on spki');
    assert.equal((await p.request('https://spki.example.test/', cert(alice))).status, 403, 'alice on spki');
    assertOk(await p.request('https://san.example.test/', cert(bob)), 'bob@other.org on san');
    assert.equal((await p.request('https://san.example.test/', cert(alice))).status, 403, 'alice on san');
  });
});

describe('downstream mTLS, enforcement reject_connection', { concurrency: true }, () => {
  let p;
  before(async () => {
    p = await startTlsPostern({
      downstream_mtls: { ca: b64(caA.certPem), enforcement: 'reject_connection' },
      routes: [publicRoute('https://app.example.test', up.origin)],
    });
  });
  after(() => p?.stopAndCheck());

  it('without a certificate the connection fails with no HTTP answer', async () => {
    await assert.rejects(p.request('https://app.example.test/', { timeoutMs: 5000 }), (err) => {
      assert.doesNotMatch(err.message, /timed out/, 'refused, not left hanging');
      return true;
    });
  });

  it('a certificate from another CA fails the connection too', async () => {
    await assert.rejects(p.request('https://app.example.test/', { ...cert(foreign), timeoutMs: 5000 }));
  });

  it('a valid certificate → 200', async () => {
    assertOk(await p.request('https://app.example.test/', cert(good)), 'good cert');
  });

  it('postern keeps serving after refused handshakes', async () => {
    await assert.rejects(p.request('https://app.example.test/', { timeoutMs: 5000 }));
    assertOk(await p.request('https://app.example.test/', cert(alice)), 'alice after a refusal');
  });
});

describe('tls_downstream_client_ca on one route (no global downstream_mtls)', { concurrency: true }, () => {
  let p;
  before(async () => {
    p = await startTlsPostern({
      routes: [
        publicRoute('https://secure.example.test', up.origin, { tls_downstream_client_ca: b64(caB.certPem) }),
        publicRoute('https://app.example.test', up.origin),
      ],
    });
  });
  after(() => p?.stopAndCheck());

  it('the route needs a certificate from its own CA: 495 without, 200 with', async () => {
    assert495(await p.request('https://secure.example.test/'), 'no cert');
    assertOk(await p.request('https://secure.example.test/', cert(foreign)), 'cert from the route CA');
  });

  it('a certificate from another CA is not valid for that route (495)', async () => {
    assert495(await p.request('https://secure.example.test/', cert(good)), 'caA cert on the caB route');
  });

  it('another public route works without a certificate', async () => {
    assertOk(await p.request('https://app.example.test/'), 'public route, no cert');
  });
});

describe('a route CA beside the global one', { concurrency: true }, () => {
  let p;
  before(async () => {
    p = await startTlsPostern({
      downstream_mtls: { ca: b64(caA.certPem), crl: b64(crlA) },
      routes: [
        publicRoute('https://partner.example.test', up.origin, { tls_downstream_client_ca: b64(caB.certPem) }),
        publicRoute('https://app.example.test', up.origin),
      ],
    });
  });
  after(() => p?.stopAndCheck());

  it("another route's CA is never accepted on a route judged by the global CA (495)", async () => {
    assert495(await p.request('https://app.example.test/', cert(foreign)), 'caB cert on a global-CA route');
    assertOk(await p.request('https://app.example.test/', cert(good)), 'caA cert on the global-CA route');
  });

  it("the route's own CA has no CRL: its certificates stay valid although the global CA has one", async () => {
    assertOk(await p.request('https://partner.example.test/', cert(foreign)), 'caB cert on its route');
    assert495(await p.request('https://partner.example.test/', cert(good)), 'caA cert on the caB route');
  });
});

describe('upstream client certificates', { concurrency: true }, () => {
  let p, server, port;
  const upClient = cp.client('postern-upstream-client', caA);
  before(async () => {
    // An https upstream that demands a client certificate from caA.
    server = https.createServer(
      { key: pki.server.keyPem, cert: pki.server.certPem, ca: caA.certPem, requestCert: true, rejectUnauthorized: true },
      (req, res) => {
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify({ cn: req.socket.getPeerCertificate().subject?.CN, servername: req.socket.servername }));
      },
    );
    await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = server.address().port;
    const to = `https://localhost:${port}`;
    const inline = { tls_client_cert: b64(upClient.certPem), tls_client_key: b64(upClient.keyPem) };
    p = await startPostern({
      config: {
        address: '127.0.0.1:0',
        insecure_server: true,
        routes: [
          publicRoute('http://withcert.example.test', to, { tls_custom_ca: b64(pki.caPem), ...inline }),
          publicRoute('http://withfile.example.test', to, {
            tls_custom_ca_file: pki.caFile,
            tls_client_cert_file: upClient.certFile,
            tls_client_key_file: upClient.keyFile,
          }),
          publicRoute('http://nocert.example.test', to, { tls_custom_ca: b64(pki.caPem) }),
          publicRoute('http://wrongca.example.test', to, { tls_custom_ca: b64(caA.certPem), ...inline }),
          publicRoute('http://sni.example.test', `https://127.0.0.1:${port}`, {
            tls_custom_ca: b64(pki.caPem),
            tls_server_name: 'svc.example.test',
            ...inline,
          }),
        ],
      },
    });
  });
  after(async () => {
    await p?.stopAndCheck();
    server?.closeAllConnections?.();
    await new Promise((resolve) => (server ? server.close(resolve) : resolve()));
  });

  it('tls_client_cert + tls_client_key (base64) are presented to the upstream → 200', async () => {
    const e = assertOk(await p.request('http://withcert.example.test/'), 'inline client cert');
    assert.equal(e.cn, 'postern-upstream-client');
    assert.equal(e.servername, 'localhost');
  });

  it('tls_client_cert_file + tls_client_key_file → 200', async () => {
    assert.equal(assertOk(await p.request('http://withfile.example.test/'), 'file client cert').cn, 'postern-upstream-client');
  });

  it('without a client certificate the upstream refuses the handshake → 502', async () => {
    const res = await p.request('http://nocert.example.test/');
    assert.equal(res.status, 502, res.text.slice(0, 300));
  });

  it('tls_custom_ca replaces the roots: the wrong CA → 502 even with a client certificate', async () => {
    const res = await p.request('http://wrongca.example.test/');
    assert.equal(res.status, 502, res.text.slice(0, 300));
  });

  it('tls_server_name sets SNI and the verified name, with the client certificate', async () => {
    const e = assertOk(await p.request('http://sni.example.test/'), 'sni');
    assert.equal(e.servername, 'svc.example.test');
    assert.equal(e.cn, 'postern-upstream-client');
  });
});

describe('validate', () => {
  it('refuses client_certificate in a policy when no client CA is configured', async () => {
    const r = await runPostern({
      argv: ['validate', '--config', '{config}'],
      config: {
        address: '127.0.0.1:0',
        insecure_server: true,
        routes: [
          {
            from: 'http://app.example.test',
            to: 'http://127.0.0.1:9',
            policy: { allow: { and: [{ client_certificate: { fingerprint: alice.fingerprint } }] } },
          },
        ],
      },
    });
    assert.equal(r.code, 1, `exit ${r.code}; stderr:\n${r.stderr}`);
    const out = [...r.messages, ...r.stdout.split('\n')].join('\n');
    assert.match(out, /need client certificates/, out);
  });
});
