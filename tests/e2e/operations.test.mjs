// What operators run Postern with besides the proxy: Prometheus metrics on `metrics_address` (exact counters summed
// over the workers, bounded label sets, basic auth, https and client certificates), the health probes on
// `health_check_addr` (/healthz, /readyz waiting for the IdP's discovery document, /startupz) and systemd's notify
// protocol (READY=1, RELOADING=1 + MONOTONIC_USEC, STOPPING=1 on $NOTIFY_SOCKET).
//
// Every listener is on 127.0.0.1:0 — health_check_addr too, whose default (127.0.0.1:28080) would collide between
// tests running at once.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import {
  startPostern,
  startUpstream,
  publicRoute,
  request,
  unusedPort,
  makePki,
  makeClientPki,
  b64,
  sleep,
  runPostern,
} from './lib/index.mjs';
import { trackChild, registerCleanupDir } from './lib/proc.mjs';
import { startSignInEnv, Browser, signIn, describeHops, USERS, randomSecret } from './lib/signin.mjs';

// ---------------------------------------------------------------------------------------------------------------
// Prometheus text exposition (0.0.4), parsed strictly enough to catch a malformed scrape.

const unescapeLabel = (s) => s.replace(/\\(["\\n])/g, (_, c) => (c === 'n' ? '\n' : c));

function parseLabels(text, line) {
  const labels = {};
  const re = /\s*([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"\s*(,|$)/y;
  let pos = 0;
  while (pos < text.length) {
    re.lastIndex = pos;
    const m = re.exec(text);
    if (!m) throw new Error(`malformed labels in: ${line}`);
    if (m[1] in labels) throw new Error(`label ${m[1]} twice in: ${line}`);
    labels[m[1]] = unescapeLabel(m[2]);
    pos = re.lastIndex;
  }
  return labels;
}

function parseValue(v, line) {
  if (v === '+Inf') return Infinity;
  if (v === '-Inf') return -Infinity;
  if (v === 'NaN') return NaN;
  const n = Number(v);
  if (v === '' || Number.isNaN(n)) throw new Error(`bad sample value in: ${line}`);
  return n;
}

/**
 * Parse an exposition: { samples: [{ name, labels, value }], types: { family: type }, help: { family: text } }.
 * Throws on a line that is neither a comment, blank, nor `name{labels} value`.
 */
export function parseProm(text) {
  const samples = [];
  const types = {};
  const help = {};
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    let m;
    if ((m = /^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped)$/.exec(line))) {
      if (m[1] in types) throw new Error(`TYPE twice for ${m[1]}`);
      types[m[1]] = m[2];
      continue;
    }
    if ((m = /^# HELP ([a-zA-Z_:][a-zA-Z0-9_:]*) (.*)$/.exec(line))) {
      help[m[1]] = m[2];
      continue;
    }
    if (line.startsWith('#')) continue;
    m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+-?\d+)?$/.exec(line);
    if (!m) throw new Error(`malformed sample line: ${JSON.stringify(line)}`);
    samples.push({ name: m[1], labels: m[2] ? parseLabels(m[2], line) : {}, value: parseValue(m[3], line) });
  }
  return { samples, types, help, text };
}

const sameLabels = (a, b) => {
  const ka = Object.keys(a);
  return ka.length === Object.keys(b).length && ka.every((k) => a[k] === b[k]);
};
const hasLabels = (have, want) => Object.entries(want).every(([k, v]) => have[k] === v);

/** Every sample of `name` whose labels include `labels`. */
const series = (m, name, labels = {}) => m.samples.filter((s) => s.name === name && hasLabels(s.labels, labels));

/** The value of the sample with exactly these labels; undefined when there is none. */
function value(m, name, labels = {}) {
  const found = m.samples.filter((s) => s.name === name && sameLabels(s.labels, labels));
  assert.ok(found.length <= 1, `${name}${JSON.stringify(labels)} appears ${found.length} times`);
  return found[0]?.value;
}

/** Like value(), but the sample must exist. */
function must(m, name, labels = {}) {
  const v = value(m, name, labels);
  if (v === undefined) {
    const near = m.samples.filter((s) => s.name === name).map((s) => `${JSON.stringify(s.labels)} ${s.value}`);
    assert.fail(`no sample ${name}${JSON.stringify(labels)}; ${name} has:\n${near.join('\n') || '(nothing)'}`);
  }
  return v;
}

/** The buckets of a histogram series as [[le, cumulative]] in order, plus its _sum and _count. */
function histogram(m, base, labels) {
  const buckets = m.samples
    .filter((s) => s.name === `${base}_bucket` && hasLabels(s.labels, labels) && sameLabels({ ...s.labels, le: '' }, { ...labels, le: '' }))
    .map((s) => [s.labels.le === '+Inf' ? Infinity : Number(s.labels.le), s.value]);
  return { buckets, sum: must(m, `${base}_sum`, labels), count: must(m, `${base}_count`, labels) };
}

/** Count of observations ≤ le in a histogram (the bucket whose bound is exactly le). */
function bucketAt(h, le) {
  const b = h.buckets.find(([bound]) => bound === le);
  assert.ok(b, `no bucket le=${le} in ${JSON.stringify(h.buckets)}`);
  return b[1];
}

/** Structural checks every scrape must pass: TYPE before samples, histograms complete and cumulative. */
function assertWellFormed(m) {
  const familyOf = (name) => {
    for (const suffix of ['_bucket', '_sum', '_count']) {
      const base = name.slice(0, -suffix.length);
      if (name.endsWith(suffix) && m.types[base] === 'histogram') return base;
    }
    return name;
  };
  for (const s of m.samples) {
    const fam = familyOf(s.name);
    assert.ok(fam in m.types, `sample ${s.name} has no # TYPE line`);
    assert.ok(fam in m.help, `sample ${s.name} has no # HELP line`);
    if (m.types[fam] === 'counter' || fam !== s.name) assert.ok(s.value >= 0, `${s.name} is negative: ${s.value}`);
  }
  for (const [fam, type] of Object.entries(m.types)) {
    if (type !== 'histogram') continue;
    const sets = new Map();
    for (const s of m.samples.filter((x) => x.name === `${fam}_count`)) sets.set(JSON.stringify(s.labels), s.labels);
    for (const labels of sets.values()) {
      const h = histogram(m, fam, labels);
      assert.ok(h.buckets.length >= 2, `${fam}${JSON.stringify(labels)}: ${h.buckets.length} buckets`);
      for (let i = 1; i < h.buckets.length; i++) {
        assert.ok(h.buckets[i][0] > h.buckets[i - 1][0], `${fam}${JSON.stringify(labels)}: bounds not increasing`);
        assert.ok(h.buckets[i][1] >= h.buckets[i - 1][1], `${fam}${JSON.stringify(labels)}: buckets not cumulative`);
      }
      const last = h.buckets.at(-1);
      assert.equal(last[0], Infinity, `${fam}${JSON.stringify(labels)}: last bucket is not +Inf`);
      assert.equal(last[1], h.count, `${fam}${JSON.stringify(labels)}: +Inf bucket ${last[1]} != _count ${h.count}`);
    }
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Helpers

/** The port of an operations listener from its stderr line ("serving metrics", "serving health probes"). */
async function listenerOf(p, msg) {
  const line = await p.waitForLog((l) => l.msg === msg && typeof l.address === 'string');
  const port = Number(line.address.slice(line.address.lastIndexOf(':') + 1));
  assert.ok(port > 0, `${msg}: ${JSON.stringify(line)}`);
  assert.match(line.address, /^127\.0\.0\.1:\d+$/);
  return { line, port };
}

/**
 * Resolves once the control thread runs (a probe is answered only then): the SIGHUP/SIGTERM handlers and the
 * config watcher are in place. The "listening" line comes before them (see reload.test.mjs, last test).
 */
async function armed(p) {
  const { port } = await listenerOf(p, 'serving health probes');
  assert.equal((await request({ port, path: '/startupz' })).status, 200);
  return port;
}

async function scrape(port, opts = {}) {
  const res = await request({ port, path: '/metrics', ...opts });
  assert.equal(res.status, 200, `GET /metrics: ${res.status} ${res.text.slice(0, 300)}`);
  const m = parseProm(res.text);
  assertWellFormed(m);
  return m;
}

/** Scrape until `check(m)` is truthy (gauges settle after connections close). */
async function scrapeUntil(port, check, { timeoutMs = 3000, what = 'a metrics condition' } = {}) {
  const deadline = Date.now() + timeoutMs;
  let m;
  for (;;) {
    m = await scrape(port);
    if (check(m)) return m;
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}; last scrape:\n${m.text.slice(0, 6000)}`);
    await sleep(50);
  }
}

const OPS = { metrics_address: '127.0.0.1:0', health_check_addr: '127.0.0.1:0' };

async function startWithMetrics(t, config, extra = {}) {
  const p = await startPostern({
    config: { address: '127.0.0.1:0', insecure_server: true, ...OPS, ...config },
    t,
    ...extra,
  });
  const { port, line } = await listenerOf(p, 'serving metrics');
  return { p, mport: port, metricsLine: line };
}

/** Run `n` calls of `fn(i)` with at most `width` at once. */
async function inBatches(n, width, fn) {
  const out = [];
  for (let i = 0; i < n; i += width) {
    out.push(...(await Promise.all(Array.from({ length: Math.min(width, n - i) }, (_, j) => fn(i + j)))));
  }
  return out;
}

const SERVER = 'pomerium_http_server_requests_total';
const CLIENT = 'pomerium_http_client_requests_total';

// ---------------------------------------------------------------------------------------------------------------

describe('metrics', { concurrency: true }, () => {
  it('counts every exchange exactly, summed over two workers, with histograms that add up', async (t) => {
    const up = await startUpstream({ name: 'metrics', t });
    const dead = await unusedPort();
    const { p, mport, metricsLine } = await startWithMetrics(
      t,
      {
        routes: [
          publicRoute('http://app.example.test', up.origin),
          publicRoute('http://dead.example.test', `http://127.0.0.1:${dead}`),
        ],
      },
      { args: ['--threads', '2'] },
    );
    assert.equal(metricsLine.tls, false);
    assert.equal(metricsLine.basic_auth, false);
    assert.equal(p.listenLine.workers, 2, `listening line: ${JSON.stringify(p.listenLine)}`);

    // Before any traffic: the process families are there, the exchange families are empty.
    const m0 = await scrape(mport);
    assert.equal(series(m0, SERVER).length, 0, 'no server series before any request');
    assert.equal(must(m0, 'pomerium_config_last_reload_success'), 1);
    assert.equal(must(m0, 'postern_config_reloads_total', { result: 'success' }), 0);
    assert.equal(must(m0, 'postern_config_reloads_total', { result: 'failure' }), 0);
    const ts = must(m0, 'pomerium_config_last_reload_success_timestamp');
    assert.ok(Math.abs(ts - Date.now() / 1000) < 60, `reload timestamp ${ts} is not now`);
    assert.equal(must(m0, 'pomerium_policy_count_total'), 2);
    assert.equal(m0.types.pomerium_policy_count_total, 'gauge');
    assert.equal(m0.types[SERVER], 'counter');
    assert.equal(m0.types.pomerium_http_server_request_duration_ms, 'histogram');
    const version = (await runPostern({ argv: ['--version'] })).stdout.split('\n')[0].replace(/^postern /, '').trim();
    const build = series(m0, 'pomerium_build_info');
    assert.equal(build.length, 1, JSON.stringify(build));
    assert.equal(build[0].labels.service, 'postern');
    assert.equal(build[0].value, 1);
    assert.ok(version.includes(build[0].labels.version), `build_info version "${build[0].labels.version}" vs --version "${version}"`);
    assert.equal(must(m0, 'postern_upstream_target_available', { route: 'http://app.example.test', upstream: up.origin }), 1);
    assert.equal(must(m0, 'postern_upstream_ejections_total', { route: 'http://app.example.test', upstream: up.origin }), 0);
    for (const name of ['postern_active_connections', 'postern_active_requests', 'postern_upstream_connect_failures_total',
      'postern_upstream_connections_opened_total', 'postern_upstream_pool_idle_connections']) {
      assert.equal(must(m0, name), 0, name);
    }
    for (const outcome of ['allow', 'deny', 'sign-in-required']) {
      assert.equal(must(m0, 'postern_authorize_decisions_total', { outcome }), 0, outcome);
    }
    assert.equal(must(m0, 'postern_sign_ins_total', { result: 'success' }), 0);
    assert.equal(must(m0, 'postern_sign_ins_total', { result: 'failure' }), 0);

    // 40 GETs of 3000 bytes, 5 POSTs of 1000 bytes, 3 upstream 404s, 2 PATCHes, 3 of Postern's own endpoint — each
    // on a new connection, so the kernel spreads them over both workers.
    const gets = await inBatches(40, 8, () => p.request('http://app.example.test/bytes/3000'));
    assert.deepEqual([...new Set(gets.map((r) => r.status))], [200]);
    assert.ok(gets.every((r) => r.body.length === 3000));
    for (let i = 0; i < 5; i++) {
      assert.equal((await p.request('http://app.example.test/upload', { method: 'POST', body: 'x'.repeat(1000) })).status, 200);
    }
    for (let i = 0; i < 3; i++) assert.equal((await p.request('http://app.example.test/status/404')).status, 404);
    for (let i = 0; i < 2; i++) assert.equal((await p.request('http://app.example.test/p', { method: 'PATCH', body: 'ab' })).status, 200);
    for (let i = 0; i < 3; i++) {
      const r = await p.request('http://app.example.test/.well-known/pomerium', { headers: { accept: 'application/json' } });
      assert.equal(r.status, 200, r.text);
    }

    const m = await scrapeUntil(mport, (x) => value(x, 'postern_active_connections') === 0, { what: 'active connections back to 0' });
    const proxy = (method, status) => ({ host: 'app.example.test', method, service: 'proxy', status: String(status) });
    assert.equal(must(m, SERVER, proxy('GET', 200)), 40);
    assert.equal(must(m, SERVER, proxy('POST', 200)), 5);
    assert.equal(must(m, SERVER, proxy('GET', 404)), 3);
    assert.equal(must(m, SERVER, proxy('PATCH', 200)), 2);
    assert.equal(must(m, SERVER, { host: 'app.example.test', method: 'GET', service: 'authenticate', status: '200' }), 3);
    assert.equal(series(m, SERVER).reduce((a, s) => a + s.value, 0), 53, 'nothing else was counted (the scrapes are not)');

    // The client side: what Postern sent to the upstream, labelled with the upstream's host:port.
    const upHost = `127.0.0.1:${up.port}`;
    assert.equal(must(m, CLIENT, { host: upHost, method: 'GET', status: '200' }), 40);
    assert.equal(must(m, CLIENT, { host: upHost, method: 'POST', status: '200' }), 5);
    assert.equal(must(m, CLIENT, { host: upHost, method: 'GET', status: '404' }), 3);
    assert.equal(must(m, CLIENT, { host: upHost, method: 'PATCH', status: '200' }), 2);
    assert.equal(series(m, CLIENT).reduce((a, s) => a + s.value, 0), 50, 'Postern\'s own endpoint made no upstream request');

    // Histograms: counts agree with the counters, sizes are the bodies' sizes.
    const d = histogram(m, 'pomerium_http_server_request_duration_ms', proxy('GET', 200));
    assert.equal(d.count, 40);
    assert.ok(d.sum > 0 && d.sum < 40 * 10_000, `duration sum ${d.sum} ms`);
    const resp = histogram(m, 'pomerium_http_server_response_size_bytes', proxy('GET', 200));
    assert.equal(resp.count, 40);
    assert.equal(resp.sum, 40 * 3000, 'response bytes of 40 × 3000-byte bodies');
    assert.equal(bucketAt(resp, 1024), 0);
    assert.equal(bucketAt(resp, 4096), 40);
    const req = histogram(m, 'pomerium_http_server_request_size_bytes', proxy('POST', 200));
    assert.equal(req.count, 5);
    assert.equal(req.sum, 5000, 'request bytes of 5 × 1000-byte bodies');
    assert.equal(bucketAt(req, 256), 0);
    assert.equal(bucketAt(req, 1024), 5);
    const cd = histogram(m, 'pomerium_http_client_request_duration_ms', { host: upHost, method: 'GET', status: '200' });
    assert.equal(cd.count, 40);
    assert.ok(cd.sum <= d.sum + 1, `upstream time ${cd.sum} ms within the server's ${d.sum} ms`);
    assert.equal(histogram(m, 'pomerium_http_client_response_size_bytes', { host: upHost, method: 'GET', status: '200' }).sum, 120_000);

    // Public routes are still policy decisions: one allow per routed request.
    assert.equal(must(m, 'postern_authorize_decisions_total', { outcome: 'allow' }), 53 - 3);
    assert.equal(must(m, 'postern_authorize_decisions_total', { outcome: 'deny' }), 0);
    assert.equal(must(m, 'postern_authorize_decisions_total', { outcome: 'sign-in-required' }), 0);
    assert.equal(must(m, 'postern_active_requests'), 0);
    const opened = must(m, 'postern_upstream_connections_opened_total');
    assert.ok(opened >= 1 && opened <= 50, `connections opened: ${opened}`);
    const idle = must(m, 'postern_upstream_pool_idle_connections');
    assert.ok(idle >= 1 && idle <= opened, `idle pooled connections: ${idle} (opened ${opened})`);
    assert.equal(must(m, 'postern_upstream_connect_failures_total'), 0);

    // A target that refuses: counted as a connect failure, not as a client exchange.
    const bad = await p.request('http://dead.example.test/', { headers: { accept: 'application/json' } });
    assert.ok(bad.status === 502 || bad.status === 503, `dead upstream answered ${bad.status}`);
    const m2 = await scrapeUntil(mport, (x) => value(x, 'postern_active_connections') === 0, { what: 'no active connection' });
    assert.ok(must(m2, 'postern_upstream_connect_failures_total') >= 1);
    assert.equal(must(m2, SERVER, { host: 'dead.example.test', method: 'GET', service: 'proxy', status: String(bad.status) }), 1);
    assert.equal(series(m2, CLIENT, { host: `127.0.0.1:${dead}` }).length, 0, 'no client series without an upstream answer');
  });

  it('active connections and requests are gauges of what is in flight', async (t) => {
    const up = await startUpstream({ name: 'gauges', t });
    const { p, mport } = await startWithMetrics(t, { routes: [publicRoute('http://app.example.test', up.origin)] }, { args: ['--threads', '2'] });
    const slow = [p.request('http://app.example.test/slow?ms=1500'), p.request('http://app.example.test/slow?ms=1500')];
    const during = await scrapeUntil(mport, (x) => value(x, 'postern_active_requests') === 2, { what: '2 active requests' });
    assert.equal(must(during, 'postern_active_connections'), 2);
    assert.equal(series(during, SERVER).length, 0, 'an exchange is counted when it ends');
    assert.deepEqual((await Promise.all(slow)).map((r) => r.status), [200, 200]);
    const after = await scrapeUntil(mport, (x) => value(x, 'postern_active_connections') === 0, { what: 'no active connection' });
    assert.equal(must(after, 'postern_active_requests'), 0);
    const h = histogram(after, 'pomerium_http_server_request_duration_ms', { host: 'app.example.test', method: 'GET', service: 'proxy', status: '200' });
    assert.equal(h.count, 2);
    assert.equal(bucketAt(h, 1000), 0, 'the 1.5 s requests are above the 1000 ms bucket');
    assert.equal(bucketAt(h, 2500), 2);
    assert.ok(h.sum >= 3000 && h.sum < 6000, `duration sum ${h.sum} ms for two 1.5 s requests`);
  });

  it('200 random unknown Host headers make one host="unknown" series; odd methods are OTHER', async (t) => {
    const up = await startUpstream({ name: 'cardinality', t });
    const { p, mport } = await startWithMetrics(t, { routes: [publicRoute('http://app.example.test', up.origin)] }, { args: ['--threads', '2'] });
    const hosts = Array.from({ length: 200 }, () => `h${crypto.randomBytes(6).toString('hex')}.nowhere.test`);
    const res = await inBatches(200, 20, (i) => p.request(`http://${hosts[i]}/x`));
    assert.deepEqual([...new Set(res.map((r) => r.status))], [404]);
    for (let i = 0; i < 3; i++) await p.request('http://app.example.test/weird', { method: 'FOOBAR' }).catch(() => null);
    const mkcol = await p.request('http://app.example.test/dav', { method: 'MKCOL' }).catch(() => null);
    const m = await scrapeUntil(mport, (x) => value(x, 'postern_active_connections') === 0, { what: 'no active connection' });
    const all = series(m, SERVER);
    const unknown = all.filter((s) => s.labels.host === 'unknown');
    assert.equal(unknown.length, 1, `series for unknown hosts:\n${unknown.map((s) => JSON.stringify(s.labels)).join('\n')}`);
    assert.deepEqual(unknown[0].labels, { host: 'unknown', method: 'GET', service: 'proxy', status: '404' });
    assert.equal(unknown[0].value, 200);
    assert.ok(!m.text.includes('nowhere.test'), 'a raw Host header became a label');
    // FOOBAR and MKCOL (whatever Postern answers them) are method="OTHER"; the method text never becomes a label.
    const other = all.filter((s) => s.labels.method === 'OTHER');
    assert.ok(other.length >= 1, `no OTHER series:\n${all.map((s) => JSON.stringify(s.labels)).join('\n')}`);
    assert.equal(other.reduce((a, s) => a + s.value, 0), 3 + (mkcol ? 1 : 0), JSON.stringify(other));
    assert.ok(other.every((s) => s.labels.host === 'app.example.test'), JSON.stringify(other));
    assert.doesNotMatch(m.text, /FOOBAR|MKCOL/);
    const allowed = new Set(['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'CONNECT', 'OPTIONS', 'TRACE', 'PATCH', 'OTHER']);
    for (const s of [...all, ...series(m, CLIENT)]) assert.ok(allowed.has(s.labels.method), JSON.stringify(s.labels));
    // Bounded: the whole scrape stays small whatever the clients sent.
    assert.ok(m.text.length < 200_000, `scrape is ${m.text.length} bytes`);
  });

  it('metrics_basic_auth: 401 with a Basic challenge without or with wrong credentials, 200 with the right ones', async (t) => {
    const { p, mport, metricsLine } = await startWithMetrics(t, { metrics_basic_auth: b64('prom:s3cret-pass') });
    assert.equal(metricsLine.basic_auth, true);
    assert.equal(metricsLine.tls, false);
    const auth = (user, pass) => ({ authorization: `Basic ${b64(`${user}:${pass}`)}` });
    for (const headers of [{}, auth('prom', 'wrong'), auth('other', 's3cret-pass'), { authorization: 'Bearer s3cret-pass' },
      { authorization: 'Basic !!!notbase64' }]) {
      const r = await request({ port: mport, path: '/metrics', headers });
      assert.equal(r.status, 401, `${JSON.stringify(headers)} → ${r.status}`);
      assert.equal(r.headers['www-authenticate'], 'Basic realm="metrics"');
      assert.doesNotMatch(r.text, /pomerium_/);
    }
    const ok = await request({ port: mport, path: '/metrics', headers: auth('prom', 's3cret-pass') });
    assert.equal(ok.status, 200);
    assert.equal(ok.headers['content-type'], 'text/plain; version=0.0.4; charset=utf-8');
    assertWellFormed(parseProm(ok.text));
    const lower = await request({ port: mport, path: '/metrics', headers: { authorization: `basic ${b64('prom:s3cret-pass')}` } });
    assert.equal(lower.status, 200, 'the scheme name is case-insensitive');
    assert.ok(!(p.stdout + p.stderr).includes('s3cret-pass'), 'the password is in the logs');
    assert.ok(!(p.stdout + p.stderr).includes(b64('prom:s3cret-pass')), 'the credentials are in the logs');
  });

  it('the metrics listener: /metrics only (404 elsewhere), GET and HEAD only (405), query strings ignored', async (t) => {
    const { mport } = await startWithMetrics(t, {});
    const ok = await request({ port: mport, path: '/metrics?name[]=x' });
    assert.equal(ok.status, 200);
    assert.equal(ok.headers['content-type'], 'text/plain; version=0.0.4; charset=utf-8');
    for (const pth of ['/', '/metrics/', '/metricsx', '/healthz', '/debug/pprof']) {
      assert.equal((await request({ port: mport, path: pth })).status, 404, pth);
    }
    for (const method of ['POST', 'PUT', 'DELETE']) {
      const r = await request({ port: mport, path: '/metrics', method, body: method === 'DELETE' ? undefined : '' });
      assert.equal(r.status, 405, `${method} /metrics → ${r.status}`);
      assert.match(r.headers.allow ?? '', /GET/);
    }
    const head = await request({ port: mport, path: '/metrics', method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal(head.body.length, 0);
    // Keep-alive: several scrapes on one connection.
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const ports = new Set();
      for (let i = 0; i < 3; i++) ports.add((await request({ port: mport, path: '/metrics', agent })).socket.localPort);
      assert.equal(ports.size, 1, 'one connection for three scrapes');
    } finally {
      agent.destroy();
    }
  });

  it('metrics over https (inline base64 PEM) with metrics_client_ca: only a trusted client certificate gets in', async (t) => {
    const pki = makePki();
    const cp = makeClientPki();
    const root = cp.ca('scrapers');
    const scraper = cp.client('scraper', root);
    const other = cp.client('intruder', cp.ca('elsewhere'));
    const { mport, metricsLine } = await startWithMetrics(t, {
      metrics_certificate: b64(pki.server.certPem),
      metrics_certificate_key: b64(pki.server.keyPem),
      metrics_client_ca: b64(root.certPem),
    });
    assert.equal(metricsLine.tls, true);
    const ok = await request({ port: mport, path: '/metrics', tls: { ca: pki.caPem, cert: scraper.certPem, key: scraper.keyPem } });
    assert.equal(ok.status, 200);
    assert.match(ok.text, /^pomerium_build_info\{/m);
    await assert.rejects(
      request({ port: mport, path: '/metrics', tls: { ca: pki.caPem }, timeoutMs: 3000 }),
      'a scrape without a client certificate must fail',
    );
    await assert.rejects(
      request({ port: mport, path: '/metrics', tls: { ca: pki.caPem, cert: other.certPem, key: other.keyPem }, timeoutMs: 3000 }),
      'a client certificate from another CA must fail',
    );
    const plain = await request({ port: mport, path: '/metrics', timeoutMs: 3000 }).catch((e) => e);
    assert.ok(plain instanceof Error || plain.status !== 200, 'plain http is served on the https metrics listener');
  });

  it('metrics over https from metrics_certificate_file / metrics_certificate_key_file (no client certificate needed)', async (t) => {
    const pki = makePki();
    const { mport, metricsLine } = await startWithMetrics(t, {
      metrics_certificate_file: pki.server.certFile,
      metrics_certificate_key_file: pki.server.keyFile,
    });
    assert.equal(metricsLine.tls, true);
    const ok = await request({ port: mport, path: '/metrics', tls: { ca: pki.caPem } });
    assert.equal(ok.status, 200);
    assert.equal(ok.headers['content-type'], 'text/plain; version=0.0.4; charset=utf-8');
    assertWellFormed(parseProm(ok.text));
    await assert.rejects(request({ port: mport, path: '/metrics', tls: { ca: makePki().caPem }, timeoutMs: 3000 }),
      'a client that does not trust the certificate refuses it');
  });

  it('sign-in: postern_sign_ins_total, sign-in-required decisions, service="authenticate", session-refresh families', async (t) => {
    const env = await startSignInEnv({ config: { ...OPS } });
    t.after(() => env.stop());
    const { port: mport } = await listenerOf(env.p, 'serving metrics');
    const b = new Browser();
    const r = await signIn(b, `${env.route}/hello`, USERS.alice.login, USERS.alice.password);
    assert.equal(r.res.status, 200, describeHops(r.hops));
    // A callback that belongs to no sign-in: a failure.
    const forged = await env.p.request(`${env.auth}/oauth2/callback?code=nope&state=nope`);
    assert.equal(forged.status, 400);
    // An exchange is counted once its response is written: wait for the connections to be gone.
    const m = await scrapeUntil(mport, (x) => value(x, 'postern_active_connections') === 0, { what: 'no active connection' });
    assert.equal(must(m, 'postern_sign_ins_total', { result: 'success' }), 1);
    assert.equal(must(m, 'postern_sign_ins_total', { result: 'failure' }), 1);
    assert.equal(must(m, 'postern_authorize_decisions_total', { outcome: 'sign-in-required' }), 1);
    assert.equal(must(m, 'postern_authorize_decisions_total', { outcome: 'allow' }), 1);
    assert.equal(must(m, 'postern_authorize_decisions_total', { outcome: 'deny' }), 0);
    // The callbacks were Postern's own endpoints on the authenticate host.
    const authn = series(m, SERVER, { host: 'localhost', service: 'authenticate' });
    assert.ok(authn.some((s) => s.labels.status === '400' && s.value === 1), JSON.stringify(authn));
    assert.ok(authn.reduce((a, s) => a + s.value, 0) >= 2, JSON.stringify(authn));
    assert.equal(series(m, SERVER, { host: '127.0.0.1', service: 'proxy', method: 'GET', status: '200' })[0]?.value, 1,
      `the signed-in request to the route:\n${series(m, SERVER).map((s) => `${JSON.stringify(s.labels)} ${s.value}`).join('\n')}`);
    assert.ok(!m.text.includes('nope'), 'query values are no labels');
    // With an IdP, the identity manager's families exist (nothing refreshed yet).
    assert.equal(must(m, 'pomerium_identity_manager_last_session_refresh_success'), 0);
    assert.equal(must(m, 'pomerium_identity_manager_last_session_refresh_errors'), 0);
    const refreshes = series(m, 'postern_session_refreshes_total');
    assert.ok(refreshes.length >= 2, JSON.stringify(refreshes));
    assert.ok(refreshes.every((s) => s.value === 0 && typeof s.labels.result === 'string'), JSON.stringify(refreshes));
  });
});

// ---------------------------------------------------------------------------------------------------------------

/** A stand-in IdP on a chosen port serving only discovery (and an empty JWKS). */
async function startDiscovery(port) {
  const issuer = `http://127.0.0.1:${port}`;
  const hits = [];
  const server = http.createServer((req, res) => {
    hits.push(req.url);
    if (req.url === '/.well-known/openid-configuration') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({
        issuer,
        authorization_endpoint: `${issuer}/authorize`,
        token_endpoint: `${issuer}/token`,
        userinfo_endpoint: `${issuer}/userinfo`,
        jwks_uri: `${issuer}/jwks`,
        response_types_supported: ['code'],
        subject_types_supported: ['public'],
        id_token_signing_alg_values_supported: ['RS256'],
        code_challenge_methods_supported: ['S256'],
      }));
    } else if (req.url === '/jwks') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"keys":[]}');
    } else {
      res.writeHead(404);
      res.end();
    }
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', resolve);
  });
  return {
    hits,
    stop: () =>
      new Promise((resolve) => {
        server.closeAllConnections?.();
        server.close(() => resolve());
      }),
  };
}

const probe = (port, pth, opts = {}) => request({ port, path: pth, ...opts });

describe('health probes', { concurrency: true }, () => {
  it('without an IdP: /healthz OK, /startupz and /readyz 200, anything else 404, GET/HEAD only', async (t) => {
    const p = await startPostern({ config: { address: '127.0.0.1:0', insecure_server: true, health_check_addr: '127.0.0.1:0' }, t });
    const { port } = await listenerOf(p, 'serving health probes');
    assert.notEqual(port, 28080);
    const healthz = await probe(port, '/healthz');
    assert.equal(healthz.status, 200);
    assert.equal(healthz.text.trim(), 'OK');
    const startupz = await probe(port, '/startupz');
    assert.equal(startupz.status, 200);
    const readyz = await probe(port, '/readyz');
    assert.equal(readyz.status, 200);
    assert.equal(readyz.text.trim(), 'ready');
    assert.equal((await probe(port, '/readyz?verbose=1')).status, 200);
    for (const pth of ['/', '/metrics', '/healthzz', '/readyz/x', '/.pomerium/']) {
      assert.equal((await probe(port, pth)).status, 404, pth);
    }
    assert.equal((await probe(port, '/healthz', { method: 'POST', body: '' })).status, 405);
    const head = await probe(port, '/healthz', { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal(head.body.length, 0);
    // No metrics listener unless configured.
    assert.ok(!p.logs().some((l) => l.msg === 'serving metrics'), 'metrics served without metrics_address');
  });

  it('with an IdP not reachable yet: /readyz 503 "not ready" while /healthz is 200, then 200 within ~5 s of discovery appearing', async (t) => {
    const idpPort = await unusedPort();
    const p = await startPostern({
      config: {
        address: '127.0.0.1:0',
        insecure_server: true,
        ...OPS,
        authenticate_service_url: 'http://auth.example.test',
        idp_provider: 'oidc',
        idp_provider_url: `http://127.0.0.1:${idpPort}`,
        idp_client_id: 'postern-e2e',
        idp_client_secret: 'postern-e2e-secret',
        shared_secret: randomSecret(),
        cookie_secret: randomSecret(),
        routes: [{ from: 'http://app.example.test', to: 'http://127.0.0.1:9', allow_any_authenticated_user: true }],
      },
      t,
    });
    const { port } = await listenerOf(p, 'serving health probes');
    await p.waitForLog((l) => l.msg === 'identity provider not reachable yet; not ready', { timeoutMs: 5000 });
    for (let i = 0; i < 3; i++) {
      const r = await probe(port, '/readyz');
      assert.equal(r.status, 503, `readyz: ${r.status} ${r.text}`);
      assert.match(r.text, /^not ready/);
      assert.equal((await probe(port, '/healthz')).status, 200, 'alive though not ready');
      assert.equal((await probe(port, '/startupz')).status, 200);
      await sleep(300);
    }
    const idp = await startDiscovery(idpPort);
    t.after(() => idp.stop());
    const t0 = Date.now();
    let r;
    for (;;) {
      r = await probe(port, '/readyz');
      if (r.status === 200 || Date.now() - t0 > 8000) break;
      await sleep(100);
    }
    const elapsed = Date.now() - t0;
    assert.equal(r.status, 200, `readyz still ${r.status} ${r.text} after ${elapsed} ms; discovery hits: ${idp.hits}`);
    assert.equal(r.text.trim(), 'ready');
    assert.ok(elapsed < 5000, `ready ${elapsed} ms after the IdP came up`);
    assert.ok(idp.hits.includes('/.well-known/openid-configuration'));
    await p.waitForLog((l) => l.msg === 'identity provider discovery read; ready');
  });

  it('once SIGTERM arrives, /healthz and /readyz answer 503 while requests drain', async (t) => {
    const up = await startUpstream({ name: 'drain', t });
    const p = await startPostern({
      config: { address: '127.0.0.1:0', insecure_server: true, health_check_addr: '127.0.0.1:0',
        routes: [publicRoute('http://app.example.test', up.origin)] },
      t,
    });
    const port = await armed(p);
    const inflight = p.request('http://app.example.test/slow?ms=1500');
    await sleep(300);
    p.child.kill('SIGTERM');
    await p.waitForLog((l) => l.msg === 'shutting down');
    const healthz = await probe(port, '/healthz');
    const readyz = await probe(port, '/readyz');
    assert.equal(healthz.status, 503, `healthz while draining: ${healthz.status} ${healthz.text}`);
    assert.equal(readyz.status, 503, `readyz while draining: ${readyz.status} ${readyz.text}`);
    assert.match(readyz.text, /^not ready/);
    assert.equal((await inflight).status, 200);
    const r = await p.stop();
    assert.equal(r.code, 0);
  });

  it('an explicitly configured health_check_addr that is taken stops startup', async (t) => {
    const blocker = http.createServer();
    await new Promise((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    t.after(() => new Promise((resolve) => blocker.close(resolve)));
    const r = await runPostern({
      config: { address: '127.0.0.1:0', insecure_server: true, health_check_addr: `127.0.0.1:${blocker.address().port}` },
    });
    assert.notEqual(r.code, 0, `exit ${r.code}; stderr:\n${r.stderr}`);
    assert.equal(r.signal, null, r.stderr);
    assert.match(r.stderr, /health_check_addr/);
  });
});

// ---------------------------------------------------------------------------------------------------------------
// systemd notify: a python3 helper binds the unix datagram socket and prints each datagram as a JSON line.

const PYTHON = (() => {
  try {
    const r = spawnSync('python3', ['-c', 'import socket, json, time; print("ok")'], { encoding: 'utf8', timeout: 10_000 });
    return r.status === 0 && r.stdout.trim() === 'ok' ? 'python3' : null;
  } catch {
    return null;
  }
})();
const NO_PYTHON = PYTHON ? false : 'python3 is not on PATH: the notify socket needs AF_UNIX datagrams, which node lacks';

const NOTIFY_HELPER = `
import json, socket, sys, time
path = sys.argv[1]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind("\\0" + path[1:] if path.startswith("@") else path)
print(json.dumps({"ready": True}), flush=True)
while True:
    data = s.recv(65536)
    print(json.dumps({"data": data.decode("utf-8", "replace"), "mono_us": time.monotonic_ns() // 1000}), flush=True)
`;

async function startNotifySocket(t, { abstract = false } = {}) {
  let sock;
  if (abstract) {
    sock = `@postern-e2e-${crypto.randomBytes(8).toString('hex')}`;
  } else {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'postern-notify-'));
    registerCleanupDir(dir);
    sock = path.join(dir, 'notify.sock');
  }
  const child = trackChild(spawn(PYTHON, ['-u', '-c', NOTIFY_HELPER, sock], { stdio: ['ignore', 'pipe', 'pipe'] }));
  t.after(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  const got = [];
  let out = '';
  let err = '';
  let ready;
  const readyP = new Promise((resolve, reject) => {
    ready = resolve;
    child.once('exit', (code) => reject(new Error(`notify helper exited ${code}: ${err}`)));
    setTimeout(() => reject(new Error(`notify helper did not start: ${err}`)), 10_000).unref();
  });
  child.stderr.on('data', (d) => (err += d));
  child.stdout.on('data', (d) => {
    out += d;
    let i;
    while ((i = out.indexOf('\n')) >= 0) {
      const line = JSON.parse(out.slice(0, i));
      out = out.slice(i + 1);
      if (line.ready) ready();
      else got.push(line);
    }
  });
  await readyP;
  const waitFor = async (pred, what, timeoutMs = 5000) => {
    const deadline = Date.now() + timeoutMs;
    while (!pred(got)) {
      if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}; datagrams: ${JSON.stringify(got.map((g) => g.data))}`);
      await sleep(20);
    }
  };
  return { sock, got, waitFor };
}

const states = (got) => got.map((g) => g.data).filter((d) => !d.startsWith('STATUS='));

describe('systemd notify', { concurrency: true }, () => {
  it('READY=1 once listening, RELOADING=1 + MONOTONIC_USEC then READY=1 around each reload, STOPPING=1 on SIGTERM', { skip: NO_PYTHON }, async (t) => {
    const n = await startNotifySocket(t);
    const p = await startPostern({
      config: { address: '127.0.0.1:0', insecure_server: true, health_check_addr: '127.0.0.1:0' },
      env: { NOTIFY_SOCKET: n.sock },
      t,
    });
    await n.waitFor((g) => states(g).length >= 1, 'READY=1');
    assert.deepEqual(states(n.got), ['READY=1']);
    // The process is serving by the time it says so.
    assert.equal((await p.request('http://any.example.test/ping')).status, 200);

    p.child.kill('SIGHUP');
    await p.waitForLog((l) => l.msg === 'configuration reloaded' && l.trigger === 'SIGHUP');
    await n.waitFor((g) => states(g).length >= 3, 'RELOADING=1 and READY=1 after SIGHUP');
    const reloading = n.got.find((g) => g.data.startsWith('RELOADING=1'));
    const m = /^RELOADING=1\nMONOTONIC_USEC=(\d+)$/.exec(reloading.data);
    assert.ok(m, `RELOADING datagram: ${JSON.stringify(reloading.data)}`);
    const usec = Number(m[1]);
    assert.ok(usec <= reloading.mono_us + 1000, `MONOTONIC_USEC ${usec} is after its arrival ${reloading.mono_us}`);
    assert.ok(reloading.mono_us - usec < 2_000_000, `MONOTONIC_USEC ${usec} is ${(reloading.mono_us - usec) / 1e6} s old (CLOCK_MONOTONIC?)`);

    // A failed reload is bracketed the same way (systemd must not stay in "reloading").
    fs.writeFileSync(p.configFile, 'address: 127.0.0.1:0\ninsecure_server: true\nhealth_check_addr: 127.0.0.1:0\ntimeout_read: 30s: oops\n');
    await p.waitForLog((l) => l.msg === 'configuration reload failed; keeping the running configuration', { timeoutMs: 3000 });
    await n.waitFor((g) => states(g).length >= 5, 'RELOADING=1 and READY=1 after a failed reload');

    const r = await p.stop();
    assert.equal(r.code, 0);
    await n.waitFor((g) => states(g).length >= 6, 'STOPPING=1');
    await sleep(200);
    const seq = states(n.got).map((s) => s.replace(/\nMONOTONIC_USEC=\d+$/, ''));
    assert.deepEqual(seq, ['READY=1', 'RELOADING=1', 'READY=1', 'RELOADING=1', 'READY=1', 'STOPPING=1']);
    assert.ok(!p.logs().some((l) => l.msg === 'could not notify systemd'), 'a notify failed');
  });

  it('an abstract NOTIFY_SOCKET (@name) works too', { skip: NO_PYTHON }, async (t) => {
    const n = await startNotifySocket(t, { abstract: true });
    const p = await startPostern({
      config: { address: '127.0.0.1:0', insecure_server: true, health_check_addr: '127.0.0.1:0' },
      env: { NOTIFY_SOCKET: n.sock },
      t,
    });
    await n.waitFor((g) => states(g).includes('READY=1'), 'READY=1 on the abstract socket');
    await p.stop();
    await n.waitFor((g) => states(g).includes('STOPPING=1'), 'STOPPING=1 on the abstract socket');
  });

  it('health_check_systemd_disabled: true sends nothing at all', { skip: NO_PYTHON }, async (t) => {
    const n = await startNotifySocket(t);
    const p = await startPostern({
      config: { address: '127.0.0.1:0', insecure_server: true, health_check_addr: '127.0.0.1:0', health_check_systemd_disabled: true },
      env: { NOTIFY_SOCKET: n.sock },
      t,
    });
    assert.equal((await p.request('http://any.example.test/ping')).status, 200);
    await armed(p);
    p.child.kill('SIGHUP');
    await p.waitForLog((l) => l.msg === 'configuration reloaded' && l.trigger === 'SIGHUP');
    const r = await p.stop();
    assert.equal(r.code, 0);
    await sleep(300);
    assert.deepEqual(n.got.map((g) => g.data), [], 'datagrams were sent with health_check_systemd_disabled');
  });
});
