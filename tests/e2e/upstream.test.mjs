// The sample upstream on its own (no Postern): the echo every other test relies on, and the demo page.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { WebSocket } from 'ws';
import { startUpstream, request, rawRequest, headerValues, makePki, patternSha256 } from './lib/index.mjs';

const sha = (b) => crypto.createHash('sha256').update(b).digest('hex');

describe('sample upstream', { concurrency: true }, () => {
  let up;
  before(async () => {
    up = await startUpstream({ name: 'selftest' });
  });
  after(() => up?.stop());

  it('echoes method, path with query, headers (repeats as arrays), body hash and remote address as JSON', async () => {
    const body = Buffer.from('hello upstream');
    const res = await request({
      port: up.port,
      method: 'POST',
      path: '/some/where?x=1&y=two',
      headers: { 'X-One': 'a', 'X-Twice': ['1', '2'], 'Content-Type': 'text/plain' },
      body,
    });
    assert.equal(res.status, 200);
    assert.match(res.headers['content-type'], /application\/json/);
    const e = res.json();
    assert.equal(e.method, 'POST');
    assert.equal(e.path, '/some/where?x=1&y=two');
    assert.equal(e.headers['x-one'], 'a');
    assert.deepEqual(e.headers['x-twice'], ['1', '2']);
    assert.equal(e.body_sha256, sha(body));
    assert.equal(e.body_bytes, body.length);
    assert.equal(e.remote_address, '127.0.0.1');
    assert.equal(e.name, 'selftest');
  });

  it('renders an HTML page titled "Postern sample app" showing the user from the claim header', async () => {
    const res = await request({
      port: up.port,
      headers: { Accept: 'text/html,application/xhtml+xml;q=0.9,*/*;q=0.8', 'X-Pomerium-Claim-Email': 'alice@example.com' },
    });
    assert.equal(res.status, 200);
    assert.match(res.headers['content-type'], /text\/html/);
    assert.match(res.text, /<title>Postern sample app<\/title>/);
    assert.match(res.text, /alice@example\.com/);
    assert.match(res.text, /x-pomerium-claim-email/);
  });

  it('shows the user from a decoded X-Pomerium-Jwt-Assertion, and "anonymous" without identity', async () => {
    const payload = Buffer.from(JSON.stringify({ email: 'bob@example.com', sub: 'u1' })).toString('base64url');
    const jwt = `eyJhbGciOiJFUzI1NiJ9.${payload}.c2ln`;
    const withJwt = await request({ port: up.port, headers: { Accept: 'text/html', 'X-Pomerium-Jwt-Assertion': jwt } });
    assert.match(withJwt.text, /bob@example\.com/);
    const anon = await request({ port: up.port, headers: { Accept: 'text/html' } });
    assert.match(anon.text, /anonymous/);
    const json = await request({ port: up.port, headers: { Accept: 'application/json, text/html;q=0.5' } });
    assert.match(json.headers['content-type'], /application\/json/);
  });

  it('/status/NNN, /headers?.., /set-cookie', async () => {
    assert.equal((await request({ port: up.port, path: '/status/418' })).status, 418);
    assert.equal((await request({ port: up.port, path: '/status/204' })).body.length, 0);
    const h = await request({ port: up.port, path: '/headers?X-Echo=1&X-Echo=2&X-Other=z' });
    assert.deepEqual(headerValues(h, 'x-echo'), ['1', '2']);
    assert.equal(h.headers['x-other'], 'z');
    const c = await request({ port: up.port, path: '/set-cookie' });
    assert.deepEqual(c.headers['set-cookie'], ['a=1; Path=/', 'b=2; Path=/; HttpOnly']);
  });

  it('/bytes/N has Content-Length, /chunked/N is chunked, both carry the pattern hash', async () => {
    const b = await request({ port: up.port, path: '/bytes/300000' });
    assert.equal(b.headers['content-length'], '300000');
    assert.equal(b.body.length, 300000);
    assert.equal(sha(b.body), patternSha256(300000));
    assert.equal(b.headers['x-body-sha256'], patternSha256(300000));
    const c = await request({ port: up.port, path: '/chunked/100001' });
    assert.equal(c.headers['transfer-encoding'], 'chunked');
    assert.equal(c.headers['content-length'], undefined);
    assert.equal(sha(c.body), patternSha256(100001));
  });

  it('/slow?ms=N waits before the head', async () => {
    const t0 = Date.now();
    const res = await request({ port: up.port, path: '/slow?ms=300' });
    assert.equal(res.status, 200);
    assert.ok(Date.now() - t0 >= 280, `answered after ${Date.now() - t0} ms`);
  });

  it('/garbage answers non-HTTP and /close closes without an answer', async () => {
    const g = await rawRequest({ port: up.port, data: 'GET /garbage HTTP/1.1\r\nHost: x\r\n\r\n' });
    assert.match(g.raw, /^THIS IS NOT HTTP/);
    assert.equal(g.closed, true);
    const c = await rawRequest({ port: up.port, data: 'GET /close HTTP/1.1\r\nHost: x\r\n\r\n' });
    assert.equal(c.raw, '');
    assert.equal(c.response, null);
  });

  it('keeps connections alive', async () => {
    const r = await rawRequest({
      port: up.port,
      data: 'GET /a HTTP/1.1\r\nHost: x\r\n\r\n',
    });
    assert.equal(r.response.status, 200);
    assert.equal(r.closed, false);
  });

  it('echoes websocket messages on /ws', async () => {
    const ws = new WebSocket(`ws://127.0.0.1:${up.port}/ws`);
    await new Promise((resolve, reject) => {
      ws.once('open', resolve);
      ws.once('error', reject);
    });
    const got = new Promise((resolve) => ws.once('message', (d, bin) => resolve([d.toString(), bin])));
    ws.send('ping over ws');
    assert.deepEqual(await got, ['ping over ws', false]);
    ws.close();
  });

  it('serves https with --tls-cert/--tls-key and reports the SNI name', async () => {
    const pki = makePki();
    const s = await startUpstream({ tls: pki.server });
    try {
      assert.match(s.origin, /^https:\/\/127\.0\.0\.1:\d+$/);
      const res = await request({ port: s.port, tls: { ca: pki.caPem, servername: 'svc.example.test' } });
      assert.equal(res.json().tls_servername, 'svc.example.test');
    } finally {
      await s.stop();
    }
  });
});
