// Malformed and hostile input on the raw socket. Each answer is checked, and after each Postern must still answer
// /ping (the process survives).

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startPostern, startUpstream, publicRoute, rawRequest, RawConnection, sleep } from './lib/index.mjs';

describe('bad input', { concurrency: true }, () => {
  let up, p;
  before(async () => {
    up = await startUpstream({ name: 'bad-input' });
    p = await startPostern({
      config: {
        address: '127.0.0.1:0',
        insecure_server: true,
        timeout_read: '1s',
        routes: [publicRoute('http://app.example.test', up.origin)],
      },
    });
  });
  after(async () => {
    await p?.stopAndCheck();
    await up?.stop();
  });

  async function stillAlive() {
    const res = await p.request('http://app.example.test/ping');
    assert.equal(res.status, 200, 'postern still answers /ping');
  }

  async function expectStatus(data, status) {
    const r = await rawRequest({ port: p.port, data });
    assert.ok(r.response, `no HTTP response; received: ${JSON.stringify(r.raw.slice(0, 300))}`);
    assert.equal(r.response.status, status, `received: ${r.raw.slice(0, 300)}`);
    await stillAlive();
    return r;
  }

  it('a malformed request line is a 400', () => expectStatus('THIS IS NOT A REQUEST LINE\r\n\r\n', 400));

  it('a malformed header line is a 400', () =>
    expectStatus('GET / HTTP/1.1\r\nHost: app.example.test\r\nthis line has no colon\r\n\r\n', 400));

  it('a header block over 64 KiB is a 431', () => {
    const big = Array.from({ length: 10 }, (_, i) => `X-Big-${i}: ${'a'.repeat(7000)}\r\n`).join('');
    return expectStatus(`GET / HTTP/1.1\r\nHost: app.example.test\r\n${big}\r\n`, 431);
  });

  it('a 40 KiB header block is still accepted and forwarded', async () => {
    const big = Array.from({ length: 5 }, (_, i) => `X-Big-${i}: ${'b'.repeat(8000)}\r\n`).join('');
    const r = await expectStatus(`GET /big HTTP/1.1\r\nHost: app.example.test\r\n${big}\r\n`, 200);
    assert.equal(JSON.parse(r.response.text).headers['x-big-4'].length, 8000);
  });

  it('Content-Length together with Transfer-Encoding is a 400', () =>
    expectStatus(
      'POST / HTTP/1.1\r\nHost: app.example.test\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
      400,
    ));

  it('a Connection header naming Content-Length cannot unframe the body (no request smuggling)', async () => {
    const smuggled = 'GET /smuggled HTTP/1.1\r\nHost: app.example.test\r\nX-Pomerium-Claim-Email: admin@example.com\r\n\r\n';
    const c = await RawConnection.open({ port: p.port });
    try {
      await c.write(
        `POST /outer HTTP/1.1\r\nHost: app.example.test\r\nConnection: content-length\r\n` +
          `Content-Length: ${smuggled.length}\r\n\r\n${smuggled}`,
      );
      const res = await c.readResponse();
      assert.equal(res.status, 200);
      const echo = JSON.parse(res.text);
      assert.equal(echo.method, 'POST');
      assert.equal(echo.path, '/outer');
      assert.equal(echo.body_bytes, smuggled.length, 'the upstream read the smuggled text as the body');
      // The same client connection and the upstream's next request are unaffected.
      await c.write('GET /next HTTP/1.1\r\nHost: app.example.test\r\n\r\n');
      const next = await c.readResponse();
      assert.equal(JSON.parse(next.text).path, '/next');
    } finally {
      c.close();
    }
    await stillAlive();
  });

  it('two different Content-Length headers are a 400', () =>
    expectStatus('POST / HTTP/1.1\r\nHost: app.example.test\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!', 400));

  it('headers trickled slower than timeout_read (1s): Postern closes the connection within a few seconds', async () => {
    const c = await RawConnection.open({ port: p.port });
    const t0 = Date.now();
    let stop = false;
    const trickle = (async () => {
      const text = 'GET / HTTP/1.1\r\nHost: app.example.test\r\nX-Slow: ' + 'z'.repeat(100);
      for (const ch of text) {
        if (stop || c.closed) return;
        await c.write(ch).catch(() => {});
        await sleep(150); // one byte every 150 ms: well inside any per-read idle timeout
      }
    })();
    try {
      const closed = await c.waitClose(5000);
      const took = Date.now() - t0;
      assert.ok(closed, `connection still open after ${took} ms of trickling`);
      assert.ok(took >= 800, `closed after only ${took} ms`);
      // a 408 before closing is fine; a 2xx is not
      const res = await c.readResponse({ timeoutMs: 10 });
      if (res) assert.ok(res.status >= 400, `answered ${res.status}`);
    } finally {
      stop = true;
      c.close();
      await trickle;
    }
    await stillAlive();
  });

  it('a client that disconnects mid-body does not hurt the process', async () => {
    const c = await RawConnection.open({ port: p.port });
    await c.write('POST /upload HTTP/1.1\r\nHost: app.example.test\r\nContent-Length: 100000\r\n\r\npartial');
    await sleep(100);
    c.close();
    await stillAlive();
  });
});
