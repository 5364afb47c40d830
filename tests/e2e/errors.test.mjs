// Upstream failures as the user sees them: 503 (refused), 502 (garbage, closed), 504 (slower than the timeout), each a
// small HTML page — or JSON when asked — carrying the request id that is also in X-Request-Id.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startPostern, startUpstream, startRawUpstream, publicRoute, unusedPort } from './lib/index.mjs';

// Postern with one public route to a raw upstream.
const rawConfig = (from, to) => ({ address: '127.0.0.1:0', insecure_server: true, routes: [publicRoute(from, to)] });

describe('upstream errors', { concurrency: true }, () => {
  let up, p, deadPort;
  before(async () => {
    [up, deadPort] = await Promise.all([startUpstream({ name: 'errors' }), unusedPort()]);
    p = await startPostern({
      config: {
        address: '127.0.0.1:0',
        insecure_server: true,
        default_upstream_timeout: '1s',
        routes: [
          publicRoute('http://refused.example.test', `http://127.0.0.1:${deadPort}`),
          publicRoute('http://quick.example.test', up.origin, { timeout: '1s' }),
          publicRoute('http://default.example.test', up.origin),
          publicRoute('http://patient.example.test', up.origin, { timeout: '5s' }),
          publicRoute('http://app.example.test', up.origin),
        ],
      },
    });
  });
  after(async () => {
    await p?.stopAndCheck();
    await up?.stop();
  });

  const html = { accept: 'text/html,application/xhtml+xml,*/*;q=0.8' };
  const json = { accept: 'application/json' };

  function assertHtmlError(res, status) {
    assert.equal(res.status, status, res.text.slice(0, 300));
    assert.match(res.headers['content-type'] || '', /text\/html/);
    const id = res.headers['x-request-id'];
    assert.ok(id, 'X-Request-Id on the error response');
    assert.ok(res.text.includes(id), `the page shows the request id ${id}:\n${res.text.slice(0, 1000)}`);
    assert.equal(res.headers['x-frame-options'], 'SAMEORIGIN', 'security headers on error pages too');
    assert.equal(res.headers['x-xss-protection'], '1; mode=block');
  }

  function assertJsonError(res, status) {
    assert.equal(res.status, status, res.text.slice(0, 300));
    assert.match(res.headers['content-type'] || '', /application\/json/);
    const body = res.json();
    assert.equal(body.status, status);
    assert.equal(typeof body.error, 'string');
    assert.ok(body.error.length > 0);
    assert.equal(body.request_id, res.headers['x-request-id']);
  }

  it('a refused upstream connection is a 503 page with the request id (unavailable, as Envoy and Pomerium answer)', async () => {
    assertHtmlError(await p.request('http://refused.example.test/', { headers: html }), 503);
  });

  it('a 503 is JSON when the client prefers application/json', async () => {
    assertJsonError(await p.request('http://refused.example.test/api', { headers: json }), 503);
  });

  it('an upstream slower than the route timeout is a 504', async () => {
    const t0 = Date.now();
    const res = await p.request('http://quick.example.test/slow?ms=4000', { headers: html });
    const took = Date.now() - t0;
    assertHtmlError(res, 504);
    assert.ok(took >= 900 && took < 3000, `504 after ${took} ms with timeout 1s`);
  });

  it('default_upstream_timeout applies to routes without a timeout; JSON 504', async () => {
    const res = await p.request('http://default.example.test/slow?ms=4000', { headers: json });
    assertJsonError(res, 504);
  });

  it('a route timeout longer than the default lets a slow upstream answer', async () => {
    const res = await p.request('http://patient.example.test/slow?ms=1500');
    assert.equal(res.status, 200);
  });

  it('an upstream answering garbage is a 502', async () => {
    assertHtmlError(await p.request('http://app.example.test/garbage', { headers: html }), 502);
  });

  it('an upstream closing without an answer is a 502', async () => {
    assertJsonError(await p.request('http://app.example.test/close', { headers: json }), 502);
  });

  it('the access log records the error status and the request id', async () => {
    const res = await p.request('http://refused.example.test/logged?x=1', { headers: json });
    assert.equal(res.status, 503);
    const line = await p.waitForAccessLog((l) => l.request_id === res.headers['x-request-id']);
    assert.equal(line.status, 503);
    assert.equal(line.path, '/logged');
    assert.equal(line.upstream, `http://127.0.0.1:${deadPort}`);
  });

  it('keeps serving after all that', async () => {
    assert.equal((await p.request('http://app.example.test/fine')).status, 200);
  });
});

// An upstream that writes more than its response declares: the extra bytes must never be taken for the answer to a
// later request (response desynchronisation). Postern does not reuse a connection with unsolicited bytes.
describe('upstream sending bytes past its response', () => {
  let raw, p;
  let requests = 0;
  before(async () => {
    raw = await startRawUpstream((sock) => {
      let seen = '';
      sock.on('data', (d) => {
        seen += d.toString('latin1');
        while (seen.includes('\r\n\r\n')) {
          seen = seen.slice(seen.indexOf('\r\n\r\n') + 4);
          requests += 1;
          sock.write(
            'HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: keep-alive\r\n\r\nok' +
              'HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nevil',
          );
        }
      });
    });
    p = await startPostern({ config: rawConfig('http://extra.example.test', raw.origin) });
  });
  after(async () => {
    await p?.stopAndCheck();
    await raw?.stop();
  });

  it('every request gets its own response, never the leftover', async () => {
    for (let i = 0; i < 3; i++) {
      const res = await p.request(`http://extra.example.test/n${i}`);
      assert.equal(res.status, 200);
      assert.equal(res.text, 'ok');
    }
    assert.equal(requests, 3, 'each request reached the upstream');
  });
});

// Interim 1xx responses are skipped, but not without end: each costs memory until the request ends.
describe('upstream sending interim responses', () => {
  let raw, p;
  before(async () => {
    raw = await startRawUpstream((sock) => {
      sock.once('data', (d) => {
        const count = Number(/GET \/(\d+)/.exec(d.toString('latin1'))?.[1] ?? 0);
        sock.end('HTTP/1.1 100 Continue\r\n\r\n'.repeat(count) + 'HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nfine');
      });
    });
    p = await startPostern({ config: rawConfig('http://interim.example.test', raw.origin) });
  });
  after(async () => {
    await p?.stopAndCheck();
    await raw?.stop();
  });

  it('a few are skipped; the final response is relayed', async () => {
    const res = await p.request('http://interim.example.test/3');
    assert.equal(res.status, 200);
    assert.equal(res.text, 'fine');
  });

  it('more than 16 make a 502', async () => {
    const res = await p.request('http://interim.example.test/40', { headers: { accept: 'application/json' } });
    assert.equal(res.status, 502);
    assert.ok(p.messages().some((m) => m.includes('too many interim responses')), p.stderr.slice(-2000));
  });
});
