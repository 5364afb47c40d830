// Forwarding: request/response headers (hop-by-hop, X-Forwarded-*, X-Request-Id, Host, set/remove), bodies both
// ways (Content-Length, chunked, 8 MB, streaming, 100-continue), keep-alive and pooling, weights, websockets.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import http from 'node:http';
import { WebSocket } from 'ws';
import {
  startPostern,
  startUpstream,
  publicRoute,
  RawConnection,
  headerValues,
  patternSha256,
  sleep,
} from './lib/index.mjs';

const sha = (b) => crypto.createHash('sha256').update(b).digest('hex');
const one = (v) => (Array.isArray(v) ? assert.fail(`header repeated: ${JSON.stringify(v)}`) : v);

describe('forwarding', { concurrency: true }, () => {
  let up, a, b, pool, shortKa, p;
  before(async () => {
    [up, a, b, pool, shortKa] = await Promise.all([
      startUpstream({ name: 'main' }),
      startUpstream({ name: 'a' }),
      startUpstream({ name: 'b' }),
      startUpstream({ name: 'pool' }), // only the pooling test talks to this one
      startUpstream({ name: 'short-keepalive', keepAliveTimeoutMs: 300 }),
    ]);
    p = await startPostern({
      config: {
        address: '127.0.0.1:0',
        insecure_server: true,
        routes: [
          publicRoute('http://fwd.example.test', up.origin, {
            set_request_headers: { 'X-Set': 'set-value' },
            remove_request_headers: ['X-Remove-Me'],
            set_response_headers: { 'X-Route-Resp': 'route-value' },
          }),
          publicRoute('http://preserve.example.test', up.origin, { preserve_host_header: true }),
          publicRoute('http://hostrw.example.test', up.origin, { host_rewrite: 'backend.internal' }),
          publicRoute('http://ws.example.test', up.origin, { allow_websockets: true }),
          publicRoute('http://nows.example.test', up.origin),
          publicRoute('http://weights.example.test', [`${a.origin},3`, `${b.origin},1`]),
          publicRoute('http://pool.example.test', pool.origin),
          publicRoute('http://even.example.test', [a.origin, b.origin]),
          publicRoute('http://shortka.example.test', shortKa.origin),
        ],
      },
    });
  });
  after(async () => {
    await p?.stopAndCheck();
    await Promise.all([up?.stop(), a?.stop(), b?.stop(), pool?.stop(), shortKa?.stop()]);
  });

  const echo = async (url, opts) => {
    const res = await p.request(url, opts);
    assert.equal(res.status, 200, `${url}: ${res.status} ${res.text.slice(0, 300)}`);
    return { res, e: res.json() };
  };

  describe('request headers', { concurrency: true }, () => {
    it('drops hop-by-hop headers and headers named in Connection', async () => {
      // raw bytes: Node's client will not send Trailer/TE with these framings
      const c = await RawConnection.open({ port: p.port });
      let e;
      try {
        await c.write(
          'GET /hop HTTP/1.1\r\nHost: fwd.example.test\r\n' +
            'Connection: keep-alive, X-Conn-Named\r\n' +
            'X-Conn-Named: must-go\r\n' +
            'Keep-Alive: timeout=5\r\n' +
            'Proxy-Connection: keep-alive\r\n' +
            'TE: trailers\r\n' +
            'Trailer: X-Some-Trailer\r\n' +
            'Upgrade: something/1.0\r\n' +
            'X-Ordinary: stays\r\n\r\n',
        );
        const res = await c.readResponse();
        assert.equal(res?.status, 200, c.text.slice(0, 300));
        e = JSON.parse(res.text);
      } finally {
        c.close();
      }
      const h = e.headers;
      for (const name of ['x-conn-named', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'upgrade']) {
        assert.equal(h[name], undefined, `${name} reached the upstream: ${JSON.stringify(h[name])}`);
      }
      if (h.connection !== undefined) assert.doesNotMatch(String(h.connection), /x-conn-named/i);
      assert.equal(h['x-ordinary'], 'stays');
    });

    it('appends the client address to X-Forwarded-For and sets X-Forwarded-Proto/-Host', async () => {
      const { e } = await echo('http://fwd.example.test:8080/xff', { headers: { 'X-Forwarded-For': '203.0.113.9' } });
      assert.match(one(e.headers['x-forwarded-for']), /^203\.0\.113\.9,\s*127\.0\.0\.1$/);
      assert.equal(one(e.headers['x-forwarded-proto']), 'http');
      assert.equal(one(e.headers['x-forwarded-host']), 'fwd.example.test:8080');
      const { e: e2 } = await echo('http://fwd.example.test/xff');
      assert.equal(one(e2.headers['x-forwarded-for']), '127.0.0.1');
    });

    it('sets X-Forwarded-Proto itself: a client cannot claim https over plain http', async () => {
      const { e } = await echo('http://fwd.example.test/xfp', { headers: { 'X-Forwarded-Proto': 'https' } });
      assert.equal(one(e.headers['x-forwarded-proto']), 'http');
    });

    it('generates an X-Request-Id, sends it upstream and echoes it in the response', async () => {
      const { res, e } = await echo('http://fwd.example.test/rid');
      const id = res.headers['x-request-id'];
      assert.ok(id && id.length >= 8, `response X-Request-Id: ${id}`);
      assert.equal(one(e.headers['x-request-id']), id);
      const { res: res2 } = await echo('http://fwd.example.test/rid');
      assert.notEqual(res2.headers['x-request-id'], id, 'a new id per request');
    });

    it('keeps a sane client X-Request-Id and replaces an insane one', async () => {
      const { res, e } = await echo('http://fwd.example.test/rid', { headers: { 'X-Request-Id': 'client-id_123.ABC' } });
      assert.equal(res.headers['x-request-id'], 'client-id_123.ABC');
      assert.equal(one(e.headers['x-request-id']), 'client-id_123.ABC');
      const bad = `bad id <script>${'x'.repeat(600)}`;
      const { res: r2, e: e2 } = await echo('http://fwd.example.test/rid', { headers: { 'X-Request-Id': bad } });
      assert.notEqual(r2.headers['x-request-id'], bad);
      assert.ok(r2.headers['x-request-id']);
      assert.equal(one(e2.headers['x-request-id']), r2.headers['x-request-id']);
    });

    it('rewrites Host to the `to` host:port by default', async () => {
      const { e } = await echo('http://fwd.example.test/host');
      assert.equal(one(e.headers.host), `127.0.0.1:${up.port}`);
    });

    it('keeps the client Host with preserve_host_header', async () => {
      const { e } = await echo('http://preserve.example.test/host');
      assert.equal(one(e.headers.host), 'preserve.example.test');
    });

    it('sets Host from host_rewrite', async () => {
      const { e } = await echo('http://hostrw.example.test/host');
      assert.equal(one(e.headers.host), 'backend.internal');
    });

    it('set_request_headers replaces, remove_request_headers removes', async () => {
      const { e } = await echo('http://fwd.example.test/setremove', {
        headers: { 'X-Set': 'from-client', 'X-Remove-Me': 'secret', 'X-Keep': 'k' },
      });
      assert.equal(one(e.headers['x-set']), 'set-value');
      assert.equal(e.headers['x-remove-me'], undefined);
      assert.equal(e.headers['x-keep'], 'k');
    });
  });

  describe('response headers', { concurrency: true }, () => {
    it('adds X-Frame-Options and X-XSS-Protection to proxied responses, no HSTS without a certificate', async () => {
      const { res } = await echo('http://fwd.example.test/');
      assert.equal(res.headers['x-frame-options'], 'SAMEORIGIN');
      assert.equal(res.headers['x-xss-protection'], '1; mode=block');
      assert.equal(res.headers['strict-transport-security'], undefined);
    });

    it('adds the security headers to Postern’s own pages too (404, /ping)', async () => {
      for (const url of ['http://nobody.example.test/', 'http://nobody.example.test/ping']) {
        const res = await p.request(url);
        assert.equal(res.headers['x-frame-options'], 'SAMEORIGIN', url);
        assert.equal(res.headers['x-xss-protection'], '1; mode=block', url);
      }
    });

    it('adds a route’s set_response_headers', async () => {
      const { res } = await echo('http://fwd.example.test/');
      assert.equal(res.headers['x-route-resp'], 'route-value');
      const other = await p.request('http://preserve.example.test/');
      assert.equal(other.headers['x-route-resp'], undefined);
    });

    it('passes upstream statuses and repeated Set-Cookie headers through unchanged', async () => {
      const res = await p.request('http://fwd.example.test/set-cookie');
      assert.equal(res.status, 200);
      assert.deepEqual(headerValues(res, 'set-cookie'), ['a=1; Path=/', 'b=2; Path=/; HttpOnly']);
      const teapot = await p.request('http://fwd.example.test/status/418');
      assert.equal(teapot.status, 418);
      assert.equal(teapot.json().path, '/status/418', 'the upstream body, not an error page');
      const h = await p.request('http://fwd.example.test/headers?X-Custom-A=1&X-Custom-A=2');
      assert.deepEqual(headerValues(h, 'x-custom-a'), ['1', '2']);
    });
  });

  describe('bodies', { concurrency: true }, () => {
    it('streams an 8 MB upload with Content-Length intact', async () => {
      const body = crypto.randomBytes(8 * 1024 * 1024);
      const { e } = await echo('http://fwd.example.test/upload', { method: 'POST', body, timeoutMs: 20_000 });
      assert.equal(e.body_bytes, body.length);
      assert.equal(e.body_sha256, sha(body));
    });

    it('forwards a chunked upload intact', async () => {
      const parts = Array.from({ length: 20 }, () => crypto.randomBytes(50_000));
      async function* gen() {
        for (const part of parts) yield part;
      }
      const { e } = await echo('http://fwd.example.test/chunked-upload', { method: 'PUT', body: gen() });
      assert.equal(e.body_bytes, 1_000_000);
      assert.equal(e.body_sha256, sha(Buffer.concat(parts)));
    });

    it('forwards an empty chunked body that arrives with the head (the upstream gets the final chunk)', async () => {
      const c = await RawConnection.open({ port: p.port });
      try {
        await c.write('POST /empty-chunked HTTP/1.1\r\nHost: fwd.example.test\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n');
        const res = await c.readResponse();
        assert.equal(res?.status, 200);
        assert.equal(JSON.parse(res.text).body_bytes, 0);
      } finally {
        c.close();
      }
    });

    it('streams a 5 MB Content-Length download intact', async () => {
      const res = await p.request('http://fwd.example.test/bytes/5000000', { timeoutMs: 20_000 });
      assert.equal(res.status, 200);
      assert.equal(res.headers['content-length'], '5000000');
      assert.equal(res.body.length, 5_000_000);
      assert.equal(sha(res.body), patternSha256(5_000_000));
    });

    it('forwards a chunked download intact', async () => {
      const res = await p.request('http://fwd.example.test/chunked/1000000');
      assert.equal(res.status, 200);
      assert.equal(res.body.length, 1_000_000);
      assert.equal(sha(res.body), patternSha256(1_000_000));
    });

    it('answers HEAD with the upstream’s headers and no body', async () => {
      const c = await RawConnection.open({ port: p.port });
      try {
        await c.write('HEAD /bytes/1234 HTTP/1.1\r\nHost: fwd.example.test\r\n\r\n');
        const res = await c.readResponse({ headOnly: true });
        assert.equal(res?.status, 200);
        assert.equal(res.header('content-length'), '1234');
        // the connection stays usable: no stray body bytes before the next response
        await c.write('GET /after-head HTTP/1.1\r\nHost: fwd.example.test\r\n\r\n');
        const next = await c.readResponse();
        assert.equal(next?.status, 200);
        assert.equal(JSON.parse(next.text).path, '/after-head');
      } finally {
        c.close();
      }
    });

    // Times (ms after sending the request) at which response bytes arrived, for /drip (3 chunks, 700 ms apart).
    async function dripTimes(query) {
      const c = await RawConnection.open({ port: p.port });
      const t0 = Date.now();
      const times = [];
      c.socket.on('data', () => times.push(Date.now() - t0));
      try {
        await c.write(`GET /drip?n=3&ms=700${query} HTTP/1.1\r\nHost: fwd.example.test\r\n\r\n`);
        const res = await c.readResponse({ timeoutMs: 5000 });
        assert.equal(res?.status, 200);
        assert.equal(res.text, 'chunk 0\nchunk 1\nchunk 2\n');
      } finally {
        c.close();
      }
      return { times, total: Date.now() - t0 };
    }

    it('streams a chunked response: the head and first chunk arrive before the upstream has finished', async () => {
      const { times, total } = await dripTimes('');
      assert.ok(total >= 1300, `drip took ${total} ms`);
      assert.ok(total - times[0] >= 500, `first response bytes after ${times[0]} ms; the whole response took ${total} ms`);
    });

    it('streams a Content-Length response: the first bytes arrive before the upstream has finished', async () => {
      const { times, total } = await dripTimes('&cl=1');
      assert.ok(total - times[0] >= 500, `first response bytes after ${times[0]} ms; the whole response took ${total} ms`);
    });

    it('streams an upload: the upstream gets the first body bytes before the client has sent the rest', async () => {
      const c = await RawConnection.open({ port: p.port });
      try {
        await c.write('POST /upload-stream HTTP/1.1\r\nHost: fwd.example.test\r\nContent-Length: 20\r\n\r\nfirst half');
        await sleep(1500);
        await c.write('secondhalf');
        const res = await c.readResponse();
        assert.equal(res?.status, 200);
        const e = JSON.parse(res.text);
        assert.equal(e.body_bytes, 20);
        assert.ok(
          e.body_last_byte_ms - e.body_first_byte_ms >= 400,
          `the upstream got the body all at once (first byte at ${e.body_first_byte_ms} ms, last at ${e.body_last_byte_ms} ms after the head)`,
        );
      } finally {
        c.close();
      }
    });

    it('streams a chunked upload: the upstream gets the first chunk before the client has sent the rest', async () => {
      const c = await RawConnection.open({ port: p.port });
      try {
        await c.write('POST /upload-stream HTTP/1.1\r\nHost: fwd.example.test\r\nTransfer-Encoding: chunked\r\n\r\na\r\nfirst half\r\n');
        await sleep(1500);
        await c.write('a\r\nsecondhalf\r\n0\r\n\r\n');
        const res = await c.readResponse();
        assert.equal(res?.status, 200);
        const e = JSON.parse(res.text);
        assert.equal(e.body_bytes, 20);
        assert.equal(e.body_sha256, sha(Buffer.from('first halfsecondhalf')));
        assert.ok(
          e.body_last_byte_ms - e.body_first_byte_ms >= 400,
          `the upstream got the body all at once (first byte at ${e.body_first_byte_ms} ms, last at ${e.body_last_byte_ms} ms after the head)`,
        );
      } finally {
        c.close();
      }
    });

    it('handles Expect: 100-continue', async () => {
      const c = await RawConnection.open({ port: p.port });
      try {
        await c.write(
          'POST /expect HTTP/1.1\r\nHost: fwd.example.test\r\nContent-Type: text/plain\r\n' +
            'Content-Length: 11\r\nExpect: 100-continue\r\n\r\n',
        );
        const interim = await c.readResponse({ timeoutMs: 3000 });
        assert.equal(interim?.status, 100, `want 100 Continue before the body is sent; got ${c.text.slice(0, 200)}`);
        await c.write('hello world');
        const res = await c.readResponse();
        assert.equal(res?.status, 200);
        const e = JSON.parse(res.text);
        assert.equal(e.body_sha256, sha(Buffer.from('hello world')));
      } finally {
        c.close();
      }
    });
  });

  describe('connections', { concurrency: true }, () => {
    it('keeps the client connection alive across requests', async () => {
      const c = await RawConnection.open({ port: p.port });
      try {
        for (let i = 0; i < 3; i++) {
          await c.write(`GET /ka/${i} HTTP/1.1\r\nHost: fwd.example.test\r\n\r\n`);
          const res = await c.readResponse();
          assert.equal(res?.status, 200, `request ${i} on the same connection`);
          assert.equal(JSON.parse(res.text).path, `/ka/${i}`);
        }
        assert.equal(c.closed, false);
      } finally {
        c.close();
      }
    });

    it('answers pipelined requests in order', async () => {
      const c = await RawConnection.open({ port: p.port });
      try {
        await c.write(
          'GET /pipe/1 HTTP/1.1\r\nHost: fwd.example.test\r\n\r\n' +
            'POST /pipe/2 HTTP/1.1\r\nHost: fwd.example.test\r\nContent-Length: 3\r\n\r\nabc' +
            'GET /pipe/3 HTTP/1.1\r\nHost: fwd.example.test\r\n\r\n',
        );
        for (const n of [1, 2, 3]) {
          const res = await c.readResponse();
          assert.equal(res?.status, 200, `response ${n}: ${c.text.slice(0, 200)}`);
          assert.equal(JSON.parse(res.text).path, `/pipe/${n}`);
        }
      } finally {
        c.close();
      }
    });

    it('closes the client connection after a response to Connection: close', async () => {
      const c = await RawConnection.open({ port: p.port });
      try {
        await c.write('GET /bye HTTP/1.1\r\nHost: fwd.example.test\r\nConnection: close\r\n\r\n');
        const res = await c.readResponse();
        assert.equal(res?.status, 200);
        assert.equal(await c.waitClose(2000), true, 'connection still open after Connection: close');
      } finally {
        c.close();
      }
    });

    it('reuses pooled upstream connections for sequential requests', async () => {
      const c = await RawConnection.open({ port: p.port });
      const ports = [];
      try {
        for (let i = 0; i < 4; i++) {
          await c.write(`GET /pool HTTP/1.1\r\nHost: pool.example.test\r\n\r\n`);
          const res = await c.readResponse();
          assert.equal(res?.status, 200);
          ports.push(JSON.parse(res.text).remote_port);
        }
      } finally {
        c.close();
      }
      assert.ok(new Set(ports).size < ports.length, `each request used a new upstream connection: ${ports}`);
    });

    it('does not fail when the upstream has closed an idle pooled connection', async () => {
      for (let i = 0; i < 3; i++) {
        const res = await p.request(`http://shortka.example.test/stale/${i}`);
        assert.equal(res.status, 200, `request ${i}: ${res.status} ${res.text.slice(0, 200)}`);
        await sleep(600); // the upstream closes idle connections after 300 ms
      }
    });

    it('answers 100 concurrent requests, each with its own response', async () => {
      const agent = new http.Agent({ keepAlive: true, maxSockets: 25 });
      try {
        const results = await Promise.all(
          Array.from({ length: 100 }, (_, i) => p.request(`http://fwd.example.test/many/${i}`, { agent })),
        );
        results.forEach((res, i) => {
          assert.equal(res.status, 200);
          assert.equal(res.json().path, `/many/${i}`, 'responses must not be mixed up');
        });
      } finally {
        agent.destroy();
      }
    });

    it('uses every URL of an unweighted `to` list', async () => {
      const counts = { a: 0, b: 0 };
      for (let i = 0; i < 40; i++) {
        const res = await p.request('http://even.example.test/even');
        assert.equal(res.status, 200);
        counts[res.json().name]++;
      }
      assert.ok(counts.a >= 8 && counts.b >= 8, `a got ${counts.a}, b got ${counts.b} of 40`);
    });

    it('spreads requests over weighted `to` URLs (3:1 → about 75/25)', async () => {
      const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
      const counts = { a: 0, b: 0 };
      const N = 200;
      try {
        await Promise.all(
          Array.from({ length: 4 }, async () => {
            for (let i = 0; i < N / 4; i++) {
              const res = await p.request('http://weights.example.test/w', { agent });
              assert.equal(res.status, 200);
              counts[res.json().name]++;
            }
          }),
        );
      } finally {
        agent.destroy();
      }
      const share = counts.a / N;
      assert.ok(share > 0.62 && share < 0.88, `a got ${counts.a}, b got ${counts.b} of ${N}`);
    });
  });

  describe('websockets', { concurrency: true }, () => {
    function connect(host) {
      const ws = new WebSocket(`ws://127.0.0.1:${p.port}/ws`, { headers: { host } });
      return new Promise((resolve, reject) => {
        ws.once('open', () => resolve({ ws }));
        ws.once('unexpected-response', (req, res) => {
          resolve({ status: res.statusCode });
          req.destroy();
        });
        ws.once('error', reject);
      });
    }

    it('tunnels a websocket when allow_websockets is true', async () => {
      const { ws, status } = await connect('ws.example.test');
      assert.ok(ws, `upgrade refused with ${status}`);
      try {
        for (const msg of ['hello', 'x'.repeat(100_000)]) {
          const got = new Promise((resolve) => ws.once('message', (d) => resolve(d.toString())));
          ws.send(msg);
          assert.equal(await got, msg);
        }
        const bin = crypto.randomBytes(1000);
        const got = new Promise((resolve) => ws.once('message', (d, isBinary) => resolve([Buffer.from(d), isBinary])));
        ws.send(bin);
        const [data, isBinary] = await got;
        assert.equal(isBinary, true);
        assert.ok(data.equals(bin));
      } finally {
        ws.close();
      }
    });

    it('refuses a websocket upgrade with 403 when allow_websockets is off', async () => {
      const { ws, status } = await connect('nows.example.test');
      if (ws) ws.terminate();
      assert.equal(status, 403);
    });
  });
});

describe('global response headers', { concurrency: true }, () => {
  let up;
  before(async () => {
    up = await startUpstream();
  });
  after(() => up?.stop());

  it('set_response_headers overrides the defaults and adds new ones', async (t) => {
    const p = await startPostern({
      config: {
        address: '127.0.0.1:0',
        insecure_server: true,
        set_response_headers: { 'X-Frame-Options': 'DENY', 'X-Global': 'g' },
        routes: [publicRoute('http://app.example.test', up.origin)],
      },
      t,
    });
    const res = await p.request('http://app.example.test/');
    assert.equal(res.status, 200);
    assert.deepEqual(headerValues(res, 'x-frame-options'), ['DENY']);
    assert.equal(res.headers['x-global'], 'g');
    assert.equal(res.headers['x-xss-protection'], '1; mode=block');
  });

  it('set_response_headers {disable: "true"} turns the defaults off', async (t) => {
    const p = await startPostern({
      config: {
        address: '127.0.0.1:0',
        insecure_server: true,
        set_response_headers: { disable: 'true' },
        routes: [publicRoute('http://app.example.test', up.origin)],
      },
      t,
    });
    const res = await p.request('http://app.example.test/');
    assert.equal(res.status, 200);
    assert.equal(res.headers['x-frame-options'], undefined);
    assert.equal(res.headers['x-xss-protection'], undefined);
    assert.equal(res.headers.disable, undefined, 'the "disable" key is not a header');
  });

  it('skip_xff_append leaves X-Forwarded-For as the client sent it', async (t) => {
    const p = await startPostern({
      config: {
        address: '127.0.0.1:0',
        insecure_server: true,
        skip_xff_append: true,
        routes: [publicRoute('http://app.example.test', up.origin)],
      },
      t,
    });
    const res = await p.request('http://app.example.test/', { headers: { 'X-Forwarded-For': '203.0.113.9' } });
    assert.equal(res.json().headers['x-forwarded-for'], '203.0.113.9');
  });
});
