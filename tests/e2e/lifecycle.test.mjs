// The process as operators see it: the access log, no secrets in any log, graceful SIGTERM.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { startPostern, startUpstream, publicRoute, request, sleep } from './lib/index.mjs';

describe('logs', { concurrency: true }, () => {
  let up, p;
  before(async () => {
    up = await startUpstream({ name: 'logs' });
    p = await startPostern({
      config: {
        address: '127.0.0.1:0',
        insecure_server: true,
        routes: [publicRoute('http://app.example.test', up.origin)],
      },
    });
  });
  after(async () => {
    await p?.stopAndCheck();
    await up?.stop();
  });

  it('writes one JSON access-log line per request with the documented fields', async () => {
    const body = 'x'.repeat(1000);
    const res = await p.request('http://app.example.test/logged/path?q=should-not-be-logged', { method: 'POST', body });
    assert.equal(res.status, 200);
    const id = res.headers['x-request-id'];
    const line = await p.waitForAccessLog((l) => l.request_id === id);
    for (const k of ['time', 'request_id', 'method', 'host', 'path', 'status', 'duration_ms', 'upstream', 'bytes_in', 'bytes_out']) {
      assert.ok(k in line, `access log lacks "${k}": ${JSON.stringify(line)}`);
    }
    assert.equal(line.method, 'POST');
    assert.equal(line.protocol, 'HTTP/1.1');
    assert.match(line.host, /^app\.example\.test(:\d+)?$/);
    assert.equal(line.path, '/logged/path', 'no query string in the log');
    assert.equal(line.status, 200);
    assert.equal(typeof line.duration_ms, 'number');
    assert.ok(line.duration_ms >= 0);
    assert.equal(line.upstream, up.origin);
    assert.ok(line.bytes_in >= 1000, `bytes_in ${line.bytes_in} for a 1000-byte body`);
    assert.ok(line.bytes_out >= res.body.length, `bytes_out ${line.bytes_out} for a ${res.body.length}-byte body`);
    assert.ok(!Number.isNaN(Date.parse(line.time)), `time parses: ${line.time}`);
    assert.equal(p.accessLog().filter((l) => l.request_id === id).length, 1, 'exactly one line');
  });

  it('logs /ping and 404s with an empty upstream', async () => {
    const res = await p.request('http://nobody.example.test/nothing');
    assert.equal(res.status, 404);
    const line = await p.waitForAccessLog((l) => l.request_id === res.headers['x-request-id']);
    assert.equal(line.upstream, '');
    assert.equal(line.status, 404);
  });

  it('never writes tokens, cookies or codes to stdout or stderr', async () => {
    const res = await p.request('http://app.example.test/callback?code=SECRETCODE&state=SECRETSTATE', {
      headers: {
        Authorization: 'Bearer SECRETTOKEN123',
        Cookie: 'session=SECRETCOOKIE; other=SECRETCOOKIE2',
        'Proxy-Authorization': 'Basic U0VDUkVUUFJPWFk=',
      },
    });
    assert.equal(res.status, 200);
    // also a request that fails, since error paths log more
    const bad = await p.request('http://nobody.example.test/x?code=SECRETCODE', {
      headers: { Authorization: 'Bearer SECRETTOKEN123', Cookie: 'session=SECRETCOOKIE' },
    });
    assert.equal(bad.status, 404);
    await p.waitForAccessLog((l) => l.request_id === bad.headers['x-request-id']);
    await sleep(200);
    const all = p.stdout + p.stderr;
    for (const secret of ['SECRETTOKEN123', 'SECRETCOOKIE', 'SECRETCODE', 'SECRETSTATE', 'U0VDUkVUUFJPWFk']) {
      assert.ok(!all.includes(secret), `"${secret}" appears in the logs`);
    }
  });
});

describe('shutdown', () => {
  it('on SIGTERM stops accepting, finishes the in-flight request, and exits 0', async (t) => {
    const up = await startUpstream({ name: 'shutdown', t });
    const p = await startPostern({
      config: {
        address: '127.0.0.1:0',
        insecure_server: true,
        routes: [publicRoute('http://app.example.test', up.origin)],
      },
      t,
    });
    const inflight = p.request('http://app.example.test/slow?ms=1500', { timeoutMs: 10_000 });
    await sleep(300);
    const exited = p.stop({ graceMs: 10_000 });
    await sleep(300);
    // a new connection is not served
    const refused = await new Promise((resolve) => {
      const s = net.connect({ host: '127.0.0.1', port: p.port });
      s.once('connect', () => {
        s.write('GET /ping HTTP/1.1\r\nHost: app.example.test\r\n\r\n');
        let got = '';
        s.on('data', (d) => (got += d));
        s.setTimeout(1500, () => {
          s.destroy();
          resolve({ connected: true, got });
        });
        s.once('close', () => resolve({ connected: true, got }));
      });
      s.once('error', (err) => resolve({ connected: false, code: err.code }));
    });
    assert.ok(!/^HTTP\/1\.1 200/.test(refused.got || ''), `a new connection after SIGTERM was served: ${JSON.stringify(refused)}`);
    const res = await inflight;
    assert.equal(res.status, 200, 'the in-flight request completes');
    assert.equal(res.json().path, '/slow?ms=1500');
    const r = await exited;
    assert.equal(r.forced, false, `needed SIGKILL after ${r.ms} ms`);
    assert.equal(r.signal, null);
    assert.equal(r.code, 0);
    assert.ok(r.ms < 5000, `exit took ${r.ms} ms`);
  });

  it('on SIGTERM with slow streams that outlive the grace period, closes them and exits 0 within grace + 2 s', async (t) => {
    const up = await startUpstream({ name: 'shutdown-streams', t });
    const p = await startPostern({
      config: {
        address: '127.0.0.1:0',
        insecure_server: true,
        routes: [publicRoute('http://app.example.test', up.origin, { timeout: '0s' })],
      },
      t,
    });
    // Ten responses that drip for a minute, and ten that have not even started: the process must not wait for them
    // (or hang), and must not crash while abandoning them.
    const drips = Array.from({ length: 10 }, () =>
      p.request('http://app.example.test/drip?n=600&ms=100', { timeoutMs: 30_000 }).catch((e) => e));
    const slow = Array.from({ length: 10 }, () =>
      p.request('http://app.example.test/slow?ms=60000', { timeoutMs: 30_000 }).catch((e) => e));
    await sleep(500);
    const r = await p.stop({ graceMs: 20_000 });
    assert.equal(r.forced, false, `needed SIGKILL after ${r.ms} ms`);
    assert.equal(r.signal, null, `ended by ${r.signal}`);
    assert.equal(r.code, 0, `exit ${r.code}; stderr:\n${p.stderr.slice(-2000)}`);
    assert.ok(r.ms < 12_000, `exit took ${r.ms} ms (grace 10 s)`);
    assert.match(p.stderr, /grace period over/);
    await Promise.all([...drips, ...slow]);  // every client saw its connection end
  });

  it('on SIGTERM with nothing in flight exits 0 promptly', async (t) => {
    const p = await startPostern({ config: { address: '127.0.0.1:0', insecure_server: true }, t });
    assert.equal((await p.request('http://x.example.test/ping')).status, 200);
    const r = await p.stop();
    assert.equal(r.code, 0, `exit ${r.code} signal ${r.signal}`);
    assert.ok(r.ms < 3000, `exit took ${r.ms} ms`);
  });
});
