// Hot reload: the configuration file and every file it names are watched (inotify, 200 ms debounce) and SIGHUP
// forces a reload. A good edit is in force within two seconds without dropping what is in flight (websockets, long
// downloads); a bad one keeps the running configuration and says where it is wrong; a setting that needs a restart
// keeps its running value; a rotated certificate is served to new connections.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import path from 'node:path';
import tls from 'node:tls';
import { WebSocket } from 'ws';
import {
  startPostern,
  startUpstream,
  publicRoute,
  request,
  unusedPort,
  makePki,
  DEFAULT_SANS,
  toYaml,
  sleep,
} from './lib/index.mjs';

const escRe = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const RELOADED = 'configuration reloaded';
const FAILED = 'configuration reload failed; keeping the running configuration';
const RESTART = 'a setting changed that needs a restart; keeping the running value';

const reloads = (p) => p.logs().filter((l) => l.msg === RELOADED);
const failures = (p) => p.logs().filter((l) => l.msg === FAILED);

/** Rewrite the config file in place (open, truncate, write, close: one IN_CLOSE_WRITE). */
function rewrite(p, config) {
  const text = typeof config === 'string' ? config : toYaml(config);
  fs.writeFileSync(p.configFile, text);
  return text;
}

/** Replace the config file the way editors and ConfigMaps do: write a temp file beside it, rename it over. */
function replaceAtomically(p, config) {
  const tmp = path.join(path.dirname(p.configFile), `.config.yaml.${crypto.randomBytes(4).toString('hex')}.tmp`);
  fs.writeFileSync(tmp, typeof config === 'string' ? config : toYaml(config));
  fs.renameSync(tmp, p.configFile);
}

/** Wait for the (n+1)-th log line of kind `msg` after `before` of them; resolves it. */
async function nextLog(p, msg, before, timeoutMs = 3000) {
  await p.waitFor(() => p.logs().filter((l) => l.msg === msg).length > before, { timeoutMs, what: `"${msg}" #${before + 1}` });
  return p.logs().filter((l) => l.msg === msg)[before];
}

/** Poll `fn` every 50 ms until it resolves truthy; resolves { value, ms } or throws after timeoutMs. */
async function pollUntil(fn, { timeoutMs = 4000, what = 'condition' } = {}) {
  const t0 = Date.now();
  let last;
  for (;;) {
    last = await fn().catch((e) => e);
    if (last && !(last instanceof Error)) return { value: last, ms: Date.now() - t0 };
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; last: ${last?.message ?? JSON.stringify(last)}`);
    await sleep(50);
  }
}

const statusOf = (p, url) => p.request(url, { headers: { accept: 'application/json' } }).then((r) => r.status);

/**
 * Resolves once the control thread runs: a probe on health_check_addr is answered only after the configuration
 * watcher and the SIGHUP handler are in place (the "listening" line comes before them; see the last test).
 */
async function armed(p) {
  const line = await p.waitForLog((l) => l.msg === 'serving health probes');
  const port = Number(line.address.slice(line.address.lastIndexOf(':') + 1));
  assert.equal((await request({ port, path: '/startupz' })).status, 200);
  return p;
}

/** startPostern, then armed(). */
const startArmed = async (opts) => armed(await startPostern(opts));

const base = (extra = {}) => ({ address: '127.0.0.1:0', insecure_server: true, health_check_addr: '127.0.0.1:0', ...extra });

async function scrapeMetrics(p) {
  const line = await p.waitForLog((l) => l.msg === 'serving metrics');
  const port = Number(line.address.slice(line.address.lastIndexOf(':') + 1));
  const res = await request({ port, path: '/metrics' });
  assert.equal(res.status, 200);
  const get = (name, labels = '') => {
    const m = new RegExp(`^${escRe(name)}${labels ? escRe(`{${labels}}`) : ''} (\\S+)$`, 'm').exec(res.text);
    assert.ok(m, `no ${name}{${labels}} in the scrape:\n${res.text.slice(0, 3000)}`);
    return Number(m[1]);
  };
  return {
    ok: get('pomerium_config_last_reload_success'),
    at: get('pomerium_config_last_reload_success_timestamp'),
    success: get('postern_config_reloads_total', 'result="success"'),
    failure: get('postern_config_reloads_total', 'result="failure"'),
    routes: get('pomerium_policy_count_total'),
  };
}

// A download that takes a while: `total` bytes in `chunks` chunks, `gapMs` apart, with a Content-Length.
async function startSlowDownload(t, { total = 5 * 1024 * 1024, chunks = 50, gapMs = 50 } = {}) {
  const body = crypto.randomBytes(total);
  const sha = crypto.createHash('sha256').update(body).digest('hex');
  const server = http.createServer(async (req, res) => {
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(total) });
    const size = Math.ceil(total / chunks);
    for (let off = 0; off < total; off += size) {
      if (res.destroyed) return;
      if (!res.write(body.subarray(off, Math.min(total, off + size)))) await new Promise((r) => res.once('drain', r));
      await sleep(gapMs);
    }
    res.end();
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve());
  }));
  return { origin: `http://127.0.0.1:${server.address().port}`, total, sha };
}

function openWebSocket(p, host) {
  const ws = new WebSocket(`ws://127.0.0.1:${p.port}/ws`, { headers: { host } });
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve(ws));
    ws.once('unexpected-response', (req, res) => reject(new Error(`upgrade refused: ${res.statusCode}`)));
    ws.once('error', reject);
  });
}

function echo(ws, msg, timeoutMs = 3000) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no websocket echo of ${msg.slice(0, 40)} in ${timeoutMs} ms`)), timeoutMs);
    ws.once('message', (d) => {
      clearTimeout(timer);
      resolve(d.toString());
    });
    ws.once('close', (code) => {
      clearTimeout(timer);
      reject(new Error(`websocket closed (${code}) instead of echoing`));
    });
    ws.send(msg);
  });
}

describe('hot reload', { concurrency: true }, () => {
  it('an edit adding a route is in force within 2 s, while a websocket and a long download started before it carry on', async (t) => {
    const up = await startUpstream({ name: 'reload', t });
    const dl = await startSlowDownload(t);
    const routes = [
      publicRoute('http://ws.example.test', up.origin, { allow_websockets: true }),
      publicRoute('http://dl.example.test', dl.origin),
    ];
    const p = await startArmed({ config: base({ routes }), t });
    assert.equal(await statusOf(p, 'http://new.example.test/'), 404);

    const ws = await openWebSocket(p, 'ws.example.test');
    t.after(() => ws.terminate());
    assert.equal(await echo(ws, 'before the reload'), 'before the reload');
    const started = Date.now();
    const download = p.request('http://dl.example.test/big', { timeoutMs: 20_000 });
    await sleep(300);

    const before = reloads(p).length;
    const t0 = Date.now();
    rewrite(p, base({ routes: [...routes, publicRoute('http://new.example.test', up.origin)] }));
    const { ms } = await pollUntil(async () => (await statusOf(p, 'http://new.example.test/hello')) === 200, {
      what: 'the new route to answer 200',
    });
    const elapsed = Date.now() - t0;
    assert.ok(elapsed < 2000, `the new route answered ${elapsed} ms after the write (poll ${ms} ms)`);
    const line = await nextLog(p, RELOADED, before);
    assert.equal(line.trigger, 'file change');
    assert.equal(line.routes, 3);
    assert.ok(!p.logs().some((l) => l.msg === RESTART), 'an edit of routes only asked for a restart');

    // The websocket opened on the old configuration still works.
    for (const msg of ['after the reload', 'y'.repeat(50_000)]) assert.equal(await echo(ws, msg), msg);
    // The download started before the edit completes whole.
    const res = await download;
    assert.ok(Date.now() - started > 1500, 'the download was still running during the reload');
    assert.equal(res.status, 200);
    assert.equal(res.body.length, dl.total, `got ${res.body.length} of ${dl.total} bytes`);
    assert.equal(crypto.createHash('sha256').update(res.body).digest('hex'), dl.sha);
    // And the old routes are still there.
    assert.equal(await statusOf(p, 'http://dl.example.test/'), 200);
  });

  it('an invalid edit keeps the running routes, names FILE:LINE, and sets the reload metrics; a good edit restores them', async (t) => {
    const up = await startUpstream({ name: 'invalid', t });
    const cfg = (routes) => base({ metrics_address: '127.0.0.1:0', routes });
    const a = publicRoute('http://a.example.test', up.origin);
    const p = await startArmed({ config: cfg([a]), t });
    const m0 = await scrapeMetrics(p);
    assert.deepEqual([m0.ok, m0.success, m0.failure, m0.routes], [1, 0, 0, 1]);

    // 1. Broken YAML on line 5.
    const broken = ['address: 127.0.0.1:0', 'insecure_server: true', 'health_check_addr: 127.0.0.1:0',
      'metrics_address: 127.0.0.1:0', 'timeout_read: 30s: oops', 'routes: []', ''].join('\n');
    rewrite(p, broken);
    const f1 = await nextLog(p, FAILED, 0);
    assert.match(f1.error, new RegExp(`^${escRe(p.configFile)}:5: `), `error: ${f1.error}`);
    assert.equal(f1.trigger, 'file change');
    assert.equal(await statusOf(p, 'http://a.example.test/'), 200, 'the running routes still serve');
    const m1 = await scrapeMetrics(p);
    assert.deepEqual([m1.ok, m1.success, m1.failure, m1.routes], [0, 0, 1, 1]);
    assert.equal(m1.at, m0.at, 'the last success timestamp does not move on a failure');

    // 2. A route with a bad `from` (a path), its line found in the written text.
    const text = toYaml(cfg([a, publicRoute('http://b.example.test/with/path', up.origin)]));
    const line = text.split('\n').findIndex((l) => l.includes('b.example.test/with/path')) + 1;
    await sleep(300); // a separate burst from the first edit
    rewrite(p, text);
    const f2 = await nextLog(p, FAILED, 1);
    assert.match(f2.error, new RegExp(`^${escRe(p.configFile)}:${line}: (?:[\\w\\[\\]]+\\.)*from: \\S`), `error: ${f2.error}`);
    assert.equal(await statusOf(p, 'http://a.example.test/'), 200);
    assert.equal(await statusOf(p, 'http://b.example.test/'), 404, 'nothing of the bad edit is in force');
    const m2 = await scrapeMetrics(p);
    assert.deepEqual([m2.ok, m2.success, m2.failure], [0, 0, 2]);

    // 3. A good edit.
    await sleep(300);
    const before = reloads(p).length;
    rewrite(p, cfg([a, publicRoute('http://b.example.test', up.origin)]));
    const ok = await nextLog(p, RELOADED, before);
    assert.equal(ok.routes, 2);
    // Workers adopt a published configuration within their 50 ms command poll.
    await pollUntil(async () => (await statusOf(p, 'http://b.example.test/')) === 200, { timeoutMs: 1000, what: 'b after the good edit' });
    const m3 = await scrapeMetrics(p);
    assert.deepEqual([m3.ok, m3.success, m3.failure, m3.routes], [1, 1, 2, 2]);
    assert.ok(m3.at >= m0.at, `timestamp ${m3.at} after ${m0.at}`);
  });

  it('SIGHUP with the file unchanged reloads once (trigger "SIGHUP") and counts a success', async (t) => {
    const up = await startUpstream({ name: 'sighup', t });
    const p = await startArmed({
      config: base({ metrics_address: '127.0.0.1:0', routes: [publicRoute('http://a.example.test', up.origin)] }),
      t,
    });
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    t.after(() => agent.destroy());
    const r1 = await p.request('http://a.example.test/1', { agent });
    assert.equal(r1.status, 200);
    p.child.kill('SIGHUP');
    const line = await nextLog(p, RELOADED, 0);
    assert.equal(line.trigger, 'SIGHUP');
    assert.equal(line.routes, 1);
    const r2 = await p.request('http://a.example.test/2', { agent });
    assert.equal(r2.status, 200);
    assert.equal(r2.socket.localPort, r1.socket.localPort, 'the keep-alive connection survived the reload');
    const m = await scrapeMetrics(p);
    assert.deepEqual([m.ok, m.success, m.failure, m.routes], [1, 1, 0, 1]);
    await sleep(500);
    assert.equal(reloads(p).length, 1, `reloads: ${JSON.stringify(reloads(p))}`);
    assert.equal(failures(p).length, 0);
    assert.ok(!p.logs().some((l) => l.msg === RESTART));
  });

  it('certificate rotation: overwriting certificate_file and certificate_key_file serves the new certificate to new connections within 2 s', async (t) => {
    const pki = makePki();
    const second = pki.issue('rotated', DEFAULT_SANS, 'rotated.example.test');
    const certFile = path.join(pki.dir, 'live.crt');
    const keyFile = path.join(pki.dir, 'live.key');
    fs.writeFileSync(certFile, pki.server.certPem);
    fs.writeFileSync(keyFile, pki.server.keyPem);
    const up = await startUpstream({ name: 'rotation', t });
    const p = await startArmed({
      config: { address: '127.0.0.1:0', health_check_addr: '127.0.0.1:0', certificate_file: certFile, certificate_key_file: keyFile,
        routes: [publicRoute('https://app.example.test', up.origin)] },
      ca: pki.caPem,
      t,
    });
    assert.equal(p.tls, true);
    const fp = (pem) => new crypto.X509Certificate(pem).fingerprint256;
    const peer = () =>
      new Promise((resolve, reject) => {
        const s = tls.connect({ host: '127.0.0.1', port: p.port, servername: 'app.example.test', ca: pki.caPem }, () => {
          const c = s.getPeerCertificate();
          s.end();
          resolve({ fingerprint: c.fingerprint256, cn: c.subject?.CN });
        });
        s.once('error', reject);
      });
    assert.equal((await peer()).fingerprint, fp(pki.server.certPem));
    assert.notEqual(fp(second.certPem), fp(pki.server.certPem));
    // A keep-alive https connection opened on the first certificate.
    const agent = new https.Agent({ keepAlive: true, maxSockets: 1 });
    t.after(() => agent.destroy());
    const r1 = await p.request('https://app.example.test/1', { agent });
    assert.equal(r1.status, 200);

    const before = reloads(p).length;
    const t0 = Date.now();
    fs.writeFileSync(keyFile, second.keyPem);
    fs.writeFileSync(certFile, second.certPem);
    const { value } = await pollUntil(async () => {
      const got = await peer();
      return got.fingerprint === fp(second.certPem) ? got : null;
    }, { what: 'the rotated certificate' });
    const elapsed = Date.now() - t0;
    assert.ok(elapsed < 2000, `new certificate served ${elapsed} ms after the write`);
    assert.equal(value.cn, 'rotated.example.test');
    const line = await nextLog(p, RELOADED, before);
    assert.equal(line.trigger, 'file change');
    // Requests on a new connection verify against the new certificate; the old connection still works.
    assert.equal((await p.request('https://app.example.test/2')).status, 200);
    const r2 = await p.request('https://app.example.test/3', { agent });
    assert.equal(r2.status, 200);
    // Later connections keep getting the new one (no flip-flop between workers).
    for (let i = 0; i < 5; i++) assert.equal((await peer()).fingerprint, fp(second.certPem));
  });

  it('an edit removing a route (written to a temp file and renamed over) makes its host 404 within 2 s', async (t) => {
    const up = await startUpstream({ name: 'remove', t });
    const a = publicRoute('http://a.example.test', up.origin);
    const b = publicRoute('http://b.example.test', up.origin);
    const p = await startArmed({ config: base({ routes: [a, b] }), t });
    assert.equal(await statusOf(p, 'http://b.example.test/'), 200);
    const before = reloads(p).length;
    const t0 = Date.now();
    replaceAtomically(p, base({ routes: [a] }));
    await pollUntil(async () => (await statusOf(p, 'http://b.example.test/')) === 404, { what: 'the removed route to 404' });
    const elapsed = Date.now() - t0;
    assert.ok(elapsed < 2000, `removed route gone ${elapsed} ms after the rename`);
    const line = await nextLog(p, RELOADED, before);
    assert.equal(line.routes, 1);
    assert.equal(await statusOf(p, 'http://a.example.test/'), 200);
    // The watch follows the new file (a rename replaced its inode): a second edit is seen too.
    const again = reloads(p).length;
    rewrite(p, base({ routes: [a, b] }));
    await pollUntil(async () => (await statusOf(p, 'http://b.example.test/')) === 200, { what: 'the route back after a second edit' });
    await nextLog(p, RELOADED, again);
  });

  it('a changed `address` (restart-only) is logged and ignored: the original port keeps serving, the rest of the edit applies', async (t) => {
    const up = await startUpstream({ name: 'restart', t });
    const a = publicRoute('http://a.example.test', up.origin);
    const p = await startArmed({ config: base({ routes: [a] }), t });
    const other = await unusedPort();
    const before = reloads(p).length;
    rewrite(p, base({ address: `127.0.0.1:${other}`, routes: [a, publicRoute('http://c.example.test', up.origin)] }));
    const warn = await p.waitForLog((l) => l.msg === RESTART, { timeoutMs: 3000 });
    assert.equal(warn.setting, 'address');
    const line = await nextLog(p, RELOADED, before);
    assert.equal(line.routes, 2);
    assert.equal(await statusOf(p, 'http://a.example.test/'), 200, 'the original port still serves');
    await pollUntil(async () => (await statusOf(p, 'http://c.example.test/')) === 200, {
      timeoutMs: 1000,
      what: 'the route added in the same edit',
    });
    const refused = await new Promise((resolve) => {
      const s = net.connect({ host: '127.0.0.1', port: other });
      s.once('connect', () => {
        s.destroy();
        resolve(false);
      });
      s.once('error', (e) => resolve(e.code));
    });
    assert.equal(refused, 'ECONNREFUSED', `something listens on the new address ${other}`);
    assert.equal(p.logs().filter((l) => l.msg === RESTART).length, 1);
  });
});

describe('signals and edits from the first moment', () => {
  // Postern logs "listening" from its constructor, before the control thread has armed the inotify watch, the SIGHUP
  // handler (SIGHUP is ignored until then) and the SIGTERM handler (the default action kills the process until
  // then). A deploy script or supervisor that edits the file, sends SIGHUP or stops Postern right after "listening"
  // must not be ignored or see an ungraceful death: either the line comes once the handlers are in place, or what
  // happened in between is caught up.
  it('an edit, a SIGHUP or a SIGTERM right after the "listening" line is acted on (9 starts)', async () => {
    const lost = [];
    const once = async (i) => {
      const p = await startPostern({ config: base() });
      const what = ['file change', 'SIGHUP', 'SIGTERM'][i % 3];
      if (what === 'SIGTERM') {
        const r = await p.stop();
        if (r.code !== 0 || r.signal !== null || !p.logs().some((l) => l.msg === 'shutting down')) {
          lost.push(`start ${i}: SIGTERM → exit code ${r.code}, signal ${r.signal}, "shutting down" logged: ${p.logs().some((l) => l.msg === 'shutting down')}`);
        }
        return;
      }
      try {
        if (what === 'file change') rewrite(p, base({ log_level: 'info' }));
        else p.child.kill('SIGHUP');
        try {
          await p.waitFor(() => reloads(p).some((l) => l.trigger === what), { timeoutMs: 1500 });
        } catch {
          lost.push(`start ${i}: ${what} lost (no "configuration reloaded" line)`);
        }
      } finally {
        const r = await p.stop();
        if (r.diedEarly) lost.push(`start ${i}: died (${r.code}/${r.signal})`);
      }
    };
    for (const batch of [[0, 1, 2], [3, 4, 5], [6, 7, 8]]) await Promise.all(batch.map(once));
    assert.deepEqual(lost, []);
  });
});
