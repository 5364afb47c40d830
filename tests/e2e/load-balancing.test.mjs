// Upstreams the way Envoy does them: lb_policy over several `to` targets (round_robin with weights, random,
// least_request, ring_hash and maglev sticky per header), active health checks taking a dead target out, outlier
// detection ejecting a target that answers 500s and letting it back, a failed connection retried on another target
// (idempotent requests only), and every target down → 503 page at once.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { startPostern, runPostern, unusedPort, sleep } from './lib/index.mjs';
import { startSignInEnv, Browser, signIn, describeHops, stopAll, USERS } from './lib/signin.mjs';

// An upstream in this process whose behaviour a test can change: mode 'ok' answers {name}, '500' answers 500s;
// /health answers 200 unless `healthy` is false. stop() closes it (connections too).
async function startTarget(name) {
  const t = { name, mode: 'ok', healthy: true, hits: 0, sockets: new Set() };
  t.server = http.createServer((req, res) => {
    if (req.url === '/health') {
      res.writeHead(t.healthy ? 200 : 503, { 'content-type': 'text/plain' });
      return res.end(t.healthy ? 'ok' : 'down');
    }
    t.hits++;
    const status = t.mode === '500' ? 500 : 200;
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ name, status }));
  });
  t.server.on('connection', (s) => {
    t.sockets.add(s);
    s.on('close', () => t.sockets.delete(s));
  });
  await new Promise((r) => t.server.listen(0, '127.0.0.1', r));
  t.port = t.server.address().port;
  t.origin = `http://127.0.0.1:${t.port}`;
  t.stop = () =>
    new Promise((r) => {
      t.server.close(() => r());
      for (const s of t.sockets) s.destroy();
    });
  return t;
}

const route = (host, targets, extra = {}) => ({
  from: `http://${host}.example.test`,
  to: targets,
  allow_public_unauthenticated_access: true,
  ...extra,
});

// `n` requests on one keep-alive connection (one worker: its balancer state is what we see); names counted.
async function spread(p, url, n, opts = {}) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const counts = {};
  const statuses = {};
  try {
    for (let i = 0; i < n; i++) {
      const res = await p.request(url, { agent, ...opts, headers: { accept: 'application/json', ...(opts.headers || {}) } });
      statuses[res.status] = (statuses[res.status] || 0) + 1;
      if (res.status === 200) {
        const name = res.json().name;
        counts[name] = (counts[name] || 0) + 1;
      }
    }
  } finally {
    agent.destroy();
  }
  return { counts, statuses };
}

describe('load balancing policies', { concurrency: true }, () => {
  let a, b, c, p;
  before(async () => {
    [a, b, c] = await Promise.all([startTarget('a'), startTarget('b'), startTarget('c')]);
    const three = [a.origin, b.origin, c.origin];
    p = await startPostern({
      config: {
        address: '127.0.0.1:0',
        insecure_server: true,
        routes: [
          route('rr', [`${a.origin},1`, `${b.origin},1`, `${c.origin},2`]),
          route('random', three, { lb_policy: 'RANDOM' }),
          route('least', three, { lb_policy: 'LEAST_REQUEST' }),
          route('ring', three, { lb_policy: 'RING_HASH', hash_policy: [{ header: { header_name: 'X-Tenant' } }] }),
          route('maglev', three, { load_balancing_policy: 'maglev', hash_policy: [{ header: { header_name: 'X-Tenant' } }] }),
        ],
      },
    });
  });
  after(async () => {
    await p?.stop();
    await Promise.all([a, b, c].map((t) => t?.stop()));
  });

  it('round_robin follows the weights exactly (1:1:2)', async () => {
    const { counts, statuses } = await spread(p, 'http://rr.example.test/', 400);
    assert.deepEqual(statuses, { 200: 400 });
    assert.deepEqual(counts, { a: 100, b: 100, c: 200 });
  });

  for (const policy of ['random', 'least']) {
    it(`${policy} spreads evenly over three targets (within 10 points)`, async () => {
      const { counts } = await spread(p, `http://${policy}.example.test/`, 600);
      for (const name of ['a', 'b', 'c']) {
        assert.ok(Math.abs((counts[name] || 0) / 600 - 1 / 3) < 0.1, `${name}: ${JSON.stringify(counts)}`);
      }
    });
  }

  for (const policy of ['ring', 'maglev']) {
    it(`${policy} sends each X-Tenant to one target and the tenants to all of them`, async () => {
      const seen = {};
      for (let tenant = 0; tenant < 40; tenant++) {
        const { counts } = await spread(p, `http://${policy}.example.test/`, 3, { headers: { 'x-tenant': `t${tenant}` } });
        const names = Object.keys(counts);
        assert.equal(names.length, 1, `tenant t${tenant} went to ${JSON.stringify(counts)}`);
        seen[names[0]] = (seen[names[0]] || 0) + 1;
      }
      assert.equal(Object.keys(seen).length, 3, JSON.stringify(seen));
    });
  }
});

// Targets named `names` and a Postern with one route over them (`extra`: its cluster keys), all stopped after `t`.
async function startRoute(t, host, names, extra) {
  const targets = await Promise.all(names.map(startTarget));
  t.after(() => Promise.all(targets.map((x) => x.stop())));
  const p = await startPostern({
    t,
    config: { address: '127.0.0.1:0', insecure_server: true, routes: [route(host, targets.map((x) => x.origin), extra)] },
  });
  return { p, targets };
}

describe('health checks and outlier detection', () => {
  it('a killed target is taken out once its health check fails: zero 5xx over the next 500 requests', async (t) => {
    const {
      p,
      targets: [, b],
    } = await startRoute(t, 'hc', ['a', 'b', 'c'], {
      health_checks: [
        { timeout: '200ms', interval: '200ms', unhealthy_threshold: 1, healthy_threshold: 1,
          http_health_check: { path: '/health' } },
      ],
    });
    assert.deepEqual((await spread(p, 'http://hc.example.test/', 30)).statuses, { 200: 30 });
    await b.stop();
    const changed = await p.waitForLog((l) => l.msg === 'upstream health changed' && l.healthy === false, { timeoutMs: 3000 });
    assert.equal(changed.upstream, b.origin);
    const { counts, statuses } = await spread(p, 'http://hc.example.test/', 500);
    assert.deepEqual(statuses, { 200: 500 });
    assert.equal(counts.b, undefined);
  });

  it('a target failing its HTTP check (503 on /health) leaves rotation and comes back when it passes', async (t) => {
    const {
      p,
      targets: [a, b],
    } = await startRoute(t, 'hc2', ['a', 'b'], {
      healthy_panic_threshold: 0,
      health_checks: [{ timeout: '1s', interval: '150ms', unhealthy_threshold: 2, healthy_threshold: 2,
        http_health_check: { path: '/health', expected_statuses: [{ start: 200, end: 300 }] } }],
    });
    b.healthy = false;
    await p.waitForLog((l) => l.msg === 'upstream health changed' && l.healthy === false && l.upstream === b.origin, { timeoutMs: 3000 });
    assert.deepEqual((await spread(p, 'http://hc2.example.test/', 40)).counts, { a: 40 });
    b.healthy = true;
    await p.waitForLog((l) => l.msg === 'upstream health changed' && l.healthy === true && l.upstream === b.origin, { timeoutMs: 3000 });
    assert.equal((await spread(p, 'http://hc2.example.test/', 40)).counts.b, 20);
    // Both down, panic mode off: 503 page at once, with the request id.
    a.healthy = false;
    b.healthy = false;
    await p.waitFor(() => p.logs().filter((l) => l.msg === 'upstream health changed' && l.healthy === false).length >= 3, { timeoutMs: 3000 });
    const res = await p.request('http://hc2.example.test/', { headers: { accept: 'application/json' } });
    assert.equal(res.status, 503);
    assert.equal(res.json().request_id, res.headers['x-request-id']);
  });

  it('an upstream answering 500s is ejected after consecutive_5xx, and taken back after base_ejection_time', async (t) => {
    const {
      p,
      targets: [, b],
    } = await startRoute(t, 'od', ['a', 'b', 'c'], {
      outlier_detection: { consecutive_5xx: 3, base_ejection_time: '1s', max_ejection_percent: 50 },
    });
    b.mode = '500';
    const first = await spread(p, 'http://od.example.test/', 30);
    assert.equal(first.statuses[500], 3, `exactly consecutive_5xx failures reach the client: ${JSON.stringify(first.statuses)}`);
    const ejected = await p.waitForLog((l) => l.msg === 'upstream ejected');
    assert.equal(ejected.upstream, b.origin);
    const during = await spread(p, 'http://od.example.test/', 60);
    assert.deepEqual(during.statuses, { 200: 60 });
    assert.equal(during.counts.b, undefined);
    b.mode = 'ok';
    await sleep(1200);
    const after = await spread(p, 'http://od.example.test/', 30);
    assert.deepEqual(after.statuses, { 200: 30 });
    assert.equal(after.counts.b, 10, 'back in rotation');
  });
});

describe('failed connections', { concurrency: true }, () => {
  let a, p, dead1, dead2;
  before(async () => {
    a = await startTarget('a');
    [dead1, dead2] = await Promise.all([unusedPort(), unusedPort()]);
    p = await startPostern({
      config: {
        address: '127.0.0.1:0',
        insecure_server: true,
        routes: [
          route('retry', [`http://127.0.0.1:${dead1}`, a.origin]),
          route('retrypost', [`http://127.0.0.1:${dead1}`, a.origin]),
          route('alldown', [`http://127.0.0.1:${dead1}`, `http://127.0.0.1:${dead2}`]),
        ],
      },
    });
  });
  after(async () => {
    await p?.stop();
    await a?.stop();
  });

  it('an idempotent request whose target refuses the connection is retried once on another target', async () => {
    const { statuses, counts } = await spread(p, 'http://retry.example.test/', 20);
    assert.deepEqual(statuses, { 200: 20 });
    assert.deepEqual(counts, { a: 20 });
  });

  it('a POST is not sent elsewhere: the ones round robin gives the dead target get the 503', async () => {
    const statuses = {};
    for (let i = 0; i < 10; i++) {
      const res = await p.request('http://retrypost.example.test/', { method: 'POST', body: 'x', headers: { accept: 'application/json' } });
      statuses[res.status] = (statuses[res.status] || 0) + 1;
    }
    // Each worker alternates between the two targets, so at least two of ten POSTs meet the dead one.
    assert.ok(statuses[503] >= 2 && statuses[200] >= 2 && statuses[503] + statuses[200] === 10, JSON.stringify(statuses));
  });

  it('postern upstreams probes every target: the dead one is listed UNHEALTHY, exit 2', async () => {
    const r = await runPostern({
      config: { address: '127.0.0.1:0', insecure_server: true, routes: [route('retry', [`http://127.0.0.1:${dead1}`, a.origin])] },
      argv: ['upstreams', '--config', '{config}', '--json'],
    });
    assert.equal(r.code, 2, r.stderr);
    const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
    assert.deepEqual(lines.map((l) => [l.upstream, l.healthy]), [[`http://127.0.0.1:${dead1}`, false], [a.origin, true]]);
    assert.match(lines[0].checks[0], /^tcp: /);
  });

  it('every target down: a 503 page with the request id, at once', async () => {
    const t0 = Date.now();
    const res = await p.request('http://alldown.example.test/', { headers: { accept: 'text/html' } });
    assert.equal(res.status, 503);
    assert.match(res.text, new RegExp(res.headers['x-request-id']));
    assert.ok(Date.now() - t0 < 2000, 'no hang');
  });
});

describe('ring_hash by session (Pomerium hashes the session id)', () => {
  it("each signed-in user's requests stay on one target; different users spread", async (t) => {
    const targets = await Promise.all(['a', 'b', 'c'].map(startTarget));
    const env = await startSignInEnv({
      routes: () => [
        { from: 'http://127.0.0.1', to: targets.map((x) => x.origin), lb_policy: 'RING_HASH', allow_any_authenticated_user: true },
      ],
    });
    t.after(() => stopAll(() => env.stop(), ...targets.map((x) => () => x.stop())));
    const seen = new Set();
    for (const user of [USERS.alice, USERS.bob, USERS.carol]) {
      const b = new Browser();
      const r = await signIn(b, `${env.route}/start`, user.login, user.password);
      const cookie = b.cookie('127.0.0.1', '_pomerium');
      assert.ok(cookie, describeHops(r.hops));
      const names = new Set();
      for (let i = 0; i < 12; i++) {
        const res = await env.p.request(`${env.route}/x${i}`, { headers: { accept: 'application/json', cookie: `_pomerium=${cookie}` } });
        assert.equal(res.status, 200);
        names.add(res.json().name);
      }
      assert.equal(names.size, 1, `${user.login} went to ${[...names]}`);
      seen.add([...names][0]);
    }
    assert.ok(seen.size >= 1);
  });
});
