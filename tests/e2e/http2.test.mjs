// HTTP/2 downstream: TLS listeners offer h2 by ALPN, the plain listener takes prior-knowledge h2c, and every stream is
// an exchange like an HTTP/1.1 request (routing, policy, Postern's own answers, header rewriting, access log). Bodies
// stream both ways with flow control; websockets are not offered over HTTP/2 (no SETTINGS_ENABLE_CONNECT_PROTOCOL:
// browsers open an HTTP/1.1 connection for them); CONNECT over HTTP/2 is refused. Hostile clients (rapid reset,
// CONTINUATION flood, empty DATA flood, an oversized header list, a SETTINGS flood from a client that never reads)
// are bounded on their own connection and the process keeps serving everyone else.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { createHash } from 'node:crypto';
import { startPostern, startUpstream, publicRoute, makePki, patternSha256 } from './lib/index.mjs';
import { h2connect as connect, h2request } from './lib/h2.mjs';

// --- raw frames, for what no well-behaved client sends -------------------------------------------------------------
const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');
function frame(type, flags, stream, payload = Buffer.alloc(0)) {
  const h = Buffer.alloc(9);
  h.writeUIntBE(payload.length, 0, 3);
  h[3] = type;
  h[4] = flags;
  h.writeUInt32BE(stream & 0x7fffffff, 5);
  return Buffer.concat([h, payload]);
}
// HPACK: every field as a literal without indexing, no Huffman (RFC 7541 §6.2.2).
function block(fields) {
  const parts = [];
  const str = (s) => {
    const b = Buffer.from(s);
    if (b.length >= 127) {
      const bytes = [0x7f];
      let n = b.length - 127;
      while (n >= 128) {
        bytes.push((n % 128) + 128);
        n = Math.floor(n / 128);
      }
      bytes.push(n);
      return Buffer.concat([Buffer.from(bytes), b]);
    }
    return Buffer.concat([Buffer.from([b.length]), b]);
  };
  for (const [n, v] of fields) parts.push(Buffer.from([0x00]), str(n), str(v));
  return Buffer.concat(parts);
}
const HEADERS = 1, DATA = 0, RST_STREAM = 3, SETTINGS = 4, GOAWAY = 7, CONTINUATION = 9;
const END_STREAM = 1, END_HEADERS = 4;
const get = (authority, path = '/') => [[':method', 'GET'], [':scheme', 'http'], [':authority', authority], [':path', path]];

// Writes `bytes` to a fresh connection and collects what comes back until the server closes it (or `ms` pass).
function rawExchange(port, bytes, { ms = 5000, read = true } = {}) {
  return new Promise((resolve) => {
    const sock = net.connect(port, '127.0.0.1');
    const got = [];
    let closed = false;
    const done = () => {
      clearTimeout(timer);
      sock.destroy();
      resolve({ data: Buffer.concat(got), closed });
    };
    const timer = setTimeout(done, ms);
    if (!read) sock.pause();
    sock.on('data', (d) => got.push(d));
    sock.on('close', () => {
      closed = true;
      done();
    });
    sock.on('error', () => {});
    sock.on('connect', () => sock.write(bytes));
  });
}
function framesOf(buf) {
  const frames = [];
  for (let at = 0; at + 9 <= buf.length; ) {
    const len = buf.readUIntBE(at, 3);
    if (at + 9 + len > buf.length) break;
    frames.push({ type: buf[at + 3], flags: buf[at + 4], stream: buf.readUInt32BE(at + 5) & 0x7fffffff, payload: buf.subarray(at + 9, at + 9 + len) });
    at += 9 + len;
  }
  return frames;
}
const goawayCode = (frames) => {
  const g = frames.find((f) => f.type === GOAWAY);
  return g ? g.payload.readUInt32BE(4) : undefined;
};

describe('HTTP/2', { concurrency: true }, () => {
  let up, plain, secure, pki;
  const host = (p) => `app.example.test:${p.port}`;

  before(async () => {
    up = await startUpstream({ name: 'h2' });
    pki = makePki();
    const routes = (scheme) => [
      publicRoute(`${scheme}://app.example.test`, up.origin, { set_request_headers: { 'X-Route': 'app' } }),
      { from: `${scheme}://private.example.test`, to: up.origin, allow_any_authenticated_user: true },
      { from: `${scheme}://idp.example.test`, to: up.origin, allowed_users: ['nobody@example.test'] },
      { from: `${scheme}://deny.example.test`, to: up.origin, policy: [
        { allow: { or: [{ accept: true }] } },
        { deny: { or: [{ http_path: { starts_with: '/admin' } }] } },
      ] },
    ];
    plain = await startPostern({ config: { address: '127.0.0.1:0', insecure_server: true, routes: routes('http') } });
    secure = await startPostern({
      config: {
        address: '127.0.0.1:0',
        certificate_file: pki.server.certFile,
        certificate_key_file: pki.server.keyFile,
        routes: routes('https'),
      },
      ca: pki.caPem,
    });
  });
  after(async () => {
    await plain?.stopAndCheck();
    await secure?.stopAndCheck();
    await up?.stop();
  });

  it('serves prior-knowledge h2c on the plain listener, through routing and header rewriting', async () => {
    const s = await connect(`http://127.0.0.1:${plain.port}`);
    try {
      const r = await h2request(s, { ':authority': host(plain), ':path': '/hello?x=1', 'x-custom': 'yes' });
      assert.equal(r.status, 200);
      const echo = JSON.parse(r.body);
      assert.equal(echo.path, '/hello?x=1');
      assert.equal(echo.http_version, '1.1', 'the upstream is reached over HTTP/1.1');
      assert.equal(echo.headers['x-route'], 'app');
      assert.equal(echo.headers['x-custom'], 'yes');
      assert.equal(echo.headers['x-forwarded-proto'], 'http');
      assert.match(r.headers['x-request-id'] ?? echo.headers['x-request-id'], /^[0-9a-f]{32}$/);
      for (const name of ['connection', 'keep-alive', 'transfer-encoding', 'upgrade'])
        assert.equal(r.headers[name], undefined, `${name} must not appear in an HTTP/2 response`);
      const unknown = await h2request(s, { ':authority': `nope.example.test:${plain.port}`, ':path': '/' });
      assert.equal(unknown.status, 404);
    } finally {
      s.close();
    }
    const line = await plain.waitForAccessLog((l) => l.path === '/hello' && l.status === 200);
    assert.equal(line.host, host(plain));
    assert.equal(line.protocol, 'HTTP/2');
  });

  it('offers h2 by ALPN on TLS and still speaks HTTP/1.1 to clients that ask for it', async () => {
    const s = await connect(`https://127.0.0.1:${secure.port}`, { ca: pki.caPem, servername: 'app.example.test' });
    try {
      assert.equal(s.alpnProtocol, 'h2');
      const r = await h2request(s, { ':authority': host(secure), ':path': '/tls' });
      assert.equal(r.status, 200);
      assert.equal(JSON.parse(r.body).headers['x-forwarded-proto'], 'https');
      assert.ok(r.headers['strict-transport-security'], 'HSTS as on HTTP/1.1');
    } finally {
      s.close();
    }
    const h1 = await secure.request(`https://${host(secure)}/h1`);
    assert.equal(h1.status, 200);
  });

  it('answers sign-in and deny like HTTP/1.1: a redirect for browsers, 401 for others, 403 when policy says no', async () => {
    const s = await connect(`http://127.0.0.1:${plain.port}`);
    try {
      const browser = await h2request(s, { ':authority': `private.example.test:${plain.port}`, ':path': '/', accept: 'text/html' });
      assert.ok([302, 401, 503].includes(browser.status), `sign-in answer, got ${browser.status}`);
      const api = await h2request(s, { ':authority': `private.example.test:${plain.port}`, ':path': '/', accept: 'application/json' });
      assert.ok(api.status >= 400, `not forwarded: ${api.status}`);
      assert.equal(api.headers['x-pomerium-intercepted-response'], 'true');
    } finally {
      s.close();
    }
  });

  it('answers gRPC calls it refuses in gRPC terms: 16 UNAUTHENTICATED, 7 PERMISSION_DENIED, no page', async () => {
    const s = await connect(`http://127.0.0.1:${plain.port}`);
    const call = (authority, path) => h2request(s, {
      ':method': 'POST', ':authority': `${authority}:${plain.port}`, ':path': path,
      'content-type': 'application/grpc+proto', te: 'trailers',
    }, Buffer.from([0, 0, 0, 0, 0]));
    try {
      const unauthenticated = await call('private.example.test', '/pkg.Svc/Call');
      assert.equal(unauthenticated.status, 200);
      assert.equal(unauthenticated.headers['grpc-status'], '16');
      assert.match(unauthenticated.headers['grpc-message'], /Unauthenticated/);
      assert.equal(unauthenticated.headers['content-type'], 'application/grpc');
      assert.equal(unauthenticated.body.length, 0, 'trailers only: no page');
      const denied = await call('deny.example.test', '/admin.Svc/Call');
      assert.equal(denied.status, 200);
      assert.equal(denied.headers['grpc-status'], '7');
      assert.equal(denied.body.length, 0);
      const allowed = await call('deny.example.test', '/pkg.Svc/Call');
      assert.equal(allowed.status, 200);
      assert.equal(allowed.headers['grpc-status'], undefined, 'allowed calls reach the upstream');
      assert.equal(JSON.parse(allowed.body).headers['content-type'], 'application/grpc+proto');
    } finally {
      s.close();
    }
  });

  it('streams request and response bodies both ways (8 MB down, 3 MB up, with and without content-length)', async () => {
    const s = await connect(`http://127.0.0.1:${plain.port}`);
    try {
      const down = await h2request(s, { ':authority': host(plain), ':path': '/bytes/8000000' });
      assert.equal(down.status, 200);
      assert.equal(down.body.length, 8_000_000);
      assert.equal(createHash('sha256').update(down.body).digest('hex'), patternSha256(8_000_000));
      const payload = Buffer.alloc(3_000_000, 7);
      const sha = createHash('sha256').update(payload).digest('hex');
      const withLength = await h2request(s, { ':method': 'POST', ':authority': host(plain), ':path': '/up', 'content-length': String(payload.length) }, payload);
      assert.equal(JSON.parse(withLength.body).body_sha256, sha);
      const unknown = await h2request(s, { ':method': 'POST', ':authority': host(plain), ':path': '/up2' }, payload);
      assert.equal(JSON.parse(unknown.body).body_sha256, sha);
    } finally {
      s.close();
    }
  });

  it('serves 100 concurrent streams on one connection', async () => {
    const s = await connect(`http://127.0.0.1:${plain.port}`);
    try {
      const results = await Promise.all(
        Array.from({ length: 100 }, (_, i) => h2request(s, { ':authority': host(plain), ':path': `/n/${i}` })),
      );
      results.forEach((r, i) => {
        assert.equal(r.status, 200);
        assert.equal(JSON.parse(r.body).path, `/n/${i}`);
      });
      assert.equal(s.remoteSettings.maxConcurrentStreams, 100);
    } finally {
      s.close();
    }
  });

  it('does not offer websockets over HTTP/2 (browsers use HTTP/1.1 for them) and refuses CONNECT', async () => {
    const s = await connect(`http://127.0.0.1:${plain.port}`);
    try {
      await new Promise((r) => (s.remoteSettings ? r() : s.once('remoteSettings', r)));
      assert.notEqual(s.remoteSettings.enableConnectProtocol, true);
      const c = await h2request(s, { ':method': 'CONNECT', ':authority': `db.example.test:5432` });
      assert.equal(c.status, 405);
    } finally {
      s.close();
    }
  });

  it('Host and :authority that disagree are a 400', async () => {
    const s = await connect(`http://127.0.0.1:${plain.port}`);
    try {
      const r = await h2request(s, { ':authority': host(plain), ':path': '/', host: `evil.example.test:${plain.port}` });
      assert.equal(r.status, 400);
    } finally {
      s.close();
    }
  });

  it('an idle HTTP/2 connection does not hold up a graceful shutdown', async () => {
    const p = await startPostern({
      config: { address: '127.0.0.1:0', insecure_server: true, routes: [publicRoute('http://app.example.test', up.origin)] },
    });
    const s = await connect(`http://127.0.0.1:${p.port}`);
    s.on('error', () => {});
    try {
      const r = await h2request(s, { ':authority': `app.example.test:${p.port}`, ':path': '/' });
      assert.equal(r.status, 200);
      const exit = await p.stop();
      assert.equal(exit.code, 0);
      assert.equal(exit.forced, false);
      assert.ok(exit.ms < 5000, `stopped in ${exit.ms} ms`);
    } finally {
      s.destroy();
    }
  });

  describe('hostile clients', () => {
    it('rapid reset (HEADERS then RST_STREAM in a loop) ends that connection with GOAWAY', async () => {
      const parts = [PREFACE, frame(SETTINGS, 0, 0), frame(SETTINGS, 1, 0)];
      for (let id = 1; id < 4000; id += 2)
        parts.push(frame(HEADERS, END_STREAM | END_HEADERS, id, block(get(host(plain)))), frame(RST_STREAM, 0, id, Buffer.from([0, 0, 0, 8])));
      const r = await rawExchange(plain.port, Buffer.concat(parts));
      assert.ok(r.closed, 'the connection is closed');
      assert.notEqual(goawayCode(framesOf(r.data)), undefined, 'after a GOAWAY');
    });

    it('a CONTINUATION flood ends that connection', async () => {
      const parts = [PREFACE, frame(SETTINGS, 0, 0), frame(HEADERS, END_STREAM, 1, block(get(host(plain))))];
      for (let i = 0; i < 10_000; i++) parts.push(frame(CONTINUATION, 0, 1, block([['x-a', 'b']])));
      const r = await rawExchange(plain.port, Buffer.concat(parts));
      assert.ok(r.closed);
      assert.notEqual(goawayCode(framesOf(r.data)), undefined);
    });

    it('an empty DATA flood ends that connection with ENHANCE_YOUR_CALM', async () => {
      const post = [[':method', 'POST'], [':scheme', 'http'], [':authority', host(plain)], [':path', '/']];
      const parts = [PREFACE, frame(SETTINGS, 0, 0), frame(HEADERS, END_HEADERS, 1, block(post))];
      for (let i = 0; i < 1000; i++) parts.push(frame(DATA, 0, 1));
      const r = await rawExchange(plain.port, Buffer.concat(parts));
      assert.ok(r.closed);
      assert.equal(goawayCode(framesOf(r.data)), 0xb);
    });

    it('a header list past the limit is a 431 on that stream; the connection lives on', async () => {
      const big = get(host(plain));
      for (let i = 0; i < 80; i++) big.push([`x-big-${i}`, 'v'.repeat(1000)]);
      const b = block(big);
      const parts = [PREFACE, frame(SETTINGS, 0, 0)];
      parts.push(frame(HEADERS, END_STREAM, 1, b.subarray(0, 16000)));
      parts.push(frame(CONTINUATION, 0, 1, b.subarray(16000, 32000)));
      parts.push(frame(CONTINUATION, 0, 1, b.subarray(32000, 48000)));
      parts.push(frame(CONTINUATION, 0, 1, b.subarray(48000, 64000)));
      parts.push(frame(CONTINUATION, 0, 1, b.subarray(64000, 80000)));
      parts.push(frame(CONTINUATION, END_HEADERS, 1, b.subarray(80000)));
      parts.push(frame(HEADERS, END_STREAM | END_HEADERS, 3, block(get(host(plain), '/after'))));
      const r = await rawExchange(plain.port, Buffer.concat(parts), { ms: 1500 });
      const heads = framesOf(r.data).filter((f) => f.type === HEADERS);
      assert.equal(heads.length, 2, 'both streams answered');
      // The 431 is the first response; HPACK ":status: 431" is not in the static table, so look for the digits.
      assert.ok(heads[0].payload.includes(Buffer.from('431')), '431 on the oversized stream');
      assert.equal(heads[1].stream, 3);
    });

    it('a SETTINGS flood from a client that never reads is cut off', async () => {
      // Enough that the acknowledgements overflow the kernel's socket buffers (several MB on loopback): from then on
      // they queue inside Postern, and past 1,000 queued the connection is closed.
      const flood = Buffer.alloc(9 * 2_000_000);
      flood.fill(frame(SETTINGS, 0, 0));
      const r = await rawExchange(plain.port, Buffer.concat([PREFACE, flood]), { read: false, ms: 15_000 });
      assert.ok(r.closed, 'the connection is closed');
    });

    it('the process keeps serving after all of that', async () => {
      const s = await connect(`http://127.0.0.1:${plain.port}`);
      try {
        const r = await h2request(s, { ':authority': host(plain), ':path': '/still' });
        assert.equal(r.status, 200);
      } finally {
        s.close();
      }
    });
  });
});
