// Sessions shared by replicas through PostgreSQL (issue 11), against a private cluster (lib/postgres.mjs): two
// Postern processes on one database agree on every session; a sign-out on one is refused by the other within 3 s;
// the refresh lease moves when its holder dies; a database restart mid-traffic costs cached sessions nothing and
// committed sessions survive restarting both replicas; records at rest are sealed; the schema is Postern's to
// create and a newer one refuses to start; `redis` is a config error that says to use postgres.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startUpstream, startPostern, runPostern, unusedPort, sleep } from './lib/index.mjs';
import { startPostgres, postgresAvailable } from './lib/postgres.mjs';
import {
  startSim, startSignInEnv, Browser, signIn, describeHops, echoOf, echoHeader, decodeJwt, stopAll, BROWSER_ACCEPT,
  JSON_ACCEPT, USERS,
} from './lib/signin.mjs';

const TOKEN_LIFETIME = 6;
const skip = postgresAvailable() ? false : 'PostgreSQL is not installed (scripts/install-deps.sh)';

let sim, up, pg;
before(async () => {
  if (skip) return;
  [sim, up, pg] = await Promise.all([startSim(), startUpstream({ name: 'store-postgres' }), startPostgres()]);
  await sim.ctl('POST', 'lifetimes', { server: 'org', access_token: TOKEN_LIFETIME, id_token: TOKEN_LIFETIME });
});
after(() => stopAll(up?.stop, sim?.stop, () => pg?.stop()));

/** Replica A (from startSignInEnv) and replica B: same config and secrets, its own port, one database. */
async function startPair() {
  const env = await startSignInEnv({
    sim, up,
    config: { databroker_storage_type: 'postgres', databroker_storage_connection_string: pg.url },
  });
  env.b = await startReplica(env);
  env.routeB = `http://127.0.0.1:${env.portB}`;
  const stopA = env.stop;
  env.stop = async () => {
    await env.b?.stop({ graceMs: 3000 });
    await stopA();
  };
  return env;
}

async function startReplica(env) {
  env.portB = env.portB ?? await unusedPort();
  return startPostern({ config: { ...env.config, address: `127.0.0.1:${env.portB}` } });
}

async function login(env, user = USERS.alice) {
  const browser = new Browser();
  const r = await signIn(browser, `${env.route}/start`, user.login, user.password);
  const cookie = browser.cookie('127.0.0.1', '_pomerium');
  assert.ok(cookie, `signed in:\n${describeHops(r.hops)}`);
  return { browser, cookie };
}

const get = (p, base, cookie, accept = JSON_ACCEPT) =>
  p.request(`${base}/app`, { headers: { accept, cookie: `_pomerium=${cookie}` } });

describe('two replicas on one PostgreSQL', { skip }, () => {
  it('a session signed in through one works on the other; a sign-out on one is refused by the other within 3 s', async () => {
    const env = await startPair();
    try {
      const { browser, cookie } = await login(env);
      const onB = await get(env.b, env.routeB, cookie);
      assert.equal(onB.status, 200, onB.text.slice(0, 300));
      assert.equal(decodeJwt(echoHeader(echoOf(onB), 'x-pomerium-jwt-assertion')).email, 'alice@example.com');
      // Sign out through A: the route's sign_out, then the signed link on the authenticate host.
      let url = `${env.route}/.pomerium/sign_out`;
      for (let i = 0; i < 3; i++) {
        const res = await browser.fetch(url, { headers: { accept: BROWSER_ACCEPT } });
        if (res.status !== 302) break;
        url = new URL(res.headers.location, url).toString();
        if (!url.includes(`:${env.port}/`)) break;  // on to the IdP's end-session endpoint
      }
      const start = Date.now();
      let status = 200;
      while (status === 200 && Date.now() - start < 3000) {
        status = (await get(env.b, env.routeB, cookie)).status;
        if (status === 200) await sleep(20);
      }
      assert.equal(status, 401, 'B refuses the signed-out session');
      assert.ok(Date.now() - start < 3000, `refused after ${Date.now() - start} ms`);
      assert.equal((await get(env.p, env.route, cookie)).status, 401, 'and so does A');
    } finally {
      await env.stop();
    }
  });

  it('the refresh lease moves to the survivor when its holder is killed', async () => {
    const env = await startPair();
    try {
      // Whichever replica holds the refresh lease is killed; the other must take over.
      const taken = (p) => p.waitForLog((l) => /refresh lease taken/.test(l.msg ?? ''), { timeoutMs: 15_000 }).then(() => p);
      const holder = await Promise.any([taken(env.p), taken(env.b)]);
      const [survivor, survivorBase] = holder === env.p ? [env.b, env.routeB] : [env.p, env.route];
      const { cookie } = await login(env);
      await sim.ctl('DELETE', 'calls');
      holder.child.kill('SIGKILL');
      await holder.exited;
      holder.stopping = true;  // killed on purpose
      const start = Date.now();
      const statuses = [];
      while (Date.now() - start < 2 * TOKEN_LIFETIME * 1000 + 12_000) {
        statuses.push((await get(survivor, survivorBase, cookie)).status);
        await sleep(500);
      }
      assert.ok(statuses.every((s) => s === 200), `statuses on the survivor: ${statuses.join(' ')}`);
      assert.match(survivor.stderr, /refresh lease taken/, 'the survivor took the lease');
      const { calls } = await sim.ctl('GET', 'calls?path_prefix=/oauth2/v1/token');
      const refreshes = calls.filter((c) => c.grant_type === 'refresh_token' && c.status === 200);
      assert.ok(refreshes.length >= 2, `the survivor kept refreshing: ${JSON.stringify(calls)}`);
    } finally {
      await env.stop();
    }
  });

  it('a database restart mid-traffic: no crash, no 5xx for cached sessions, committed sessions survive both replicas restarting', async () => {
    const env = await startPair();
    try {
      const { cookie } = await login(env);
      let stop = false;
      const statuses = [];
      const traffic = (async () => {
        while (!stop) {
          const [a, b] = await Promise.all([get(env.p, env.route, cookie), get(env.b, env.routeB, cookie)]);
          statuses.push(a.status, b.status);
          await sleep(50);
        }
      })();
      await sleep(300);
      await pg.restart();
      await sleep(1500);
      stop = true;
      await traffic;
      assert.ok(statuses.length > 20);
      assert.ok(statuses.every((s) => s === 200), `statuses: ${[...new Set(statuses)].join(' ')}`);
      // Both replicas reconnect; a new sign-in works again.
      await env.b.waitForLog((l) => /connected to PostgreSQL again/.test(l.msg ?? ''), { timeoutMs: 10_000 });
      const second = await login(env, USERS.bob);
      assert.equal((await get(env.b, env.routeB, second.cookie)).status, 200);
      // Restart both replicas: the sessions were committed.
      await env.b.stop();
      const configA = env.config;
      await env.p.stop();
      env.p = await startPostern({ config: configA });
      env.b = await startReplica(env);
      assert.equal((await get(env.p, env.route, cookie)).status, 200, 'alice survives');
      assert.equal((await get(env.b, env.routeB, second.cookie)).status, 200, 'bob survives');
    } finally {
      await env.stop();
    }
  });

  it('a sign-in while the database is down gets a clear "try again shortly" page, and works once it is back', async () => {
    const env = await startPair();
    let restartDb = false;
    try {
      const { cookie } = await login(env);
      await pg.stop();
      restartDb = true;
      await env.p.waitForLog((l) => /lost the connection to PostgreSQL/.test(l.msg ?? ''), { timeoutMs: 5000 });
      assert.equal((await get(env.p, env.route, cookie)).status, 200, 'the cached session still works');
      const browser = new Browser();
      const r = await signIn(browser, `${env.route}/start`, USERS.carol.login, USERS.carol.password);
      assert.equal(r.res.status, 503, describeHops(r.hops));
      assert.match(r.res.text, /try again shortly/i);
      await pg.start();
      restartDb = false;
      await env.p.waitForLog((l) => /connected to PostgreSQL again/.test(l.msg ?? ''), { timeoutMs: 10_000 });
      await login(env, USERS.carol);
    } finally {
      if (restartDb) await pg.start();
      await env.stop();
    }
  });
});

describe('what is at rest', { skip }, () => {
  it('sessions are sealed: the table holds no token, email or claim in the clear; markers are hashed', async () => {
    const env = await startPair();
    try {
      await login(env);
      const rows = Number(await pg.sql('SELECT count(*) FROM postern_sessions'));
      assert.ok(rows >= 1);
      const leaks = await pg.sql(`SELECT count(*) FROM postern_sessions
        WHERE position('eyJ'::bytea in data) > 0 OR position('alice'::bytea in data) > 0 OR position('refresh'::bytea in data) > 0`);
      assert.equal(leaks, '0');
      const markers = await pg.sql(`SELECT count(*) FROM postern_markers WHERE length(key) <> 32`);
      assert.equal(markers, '0', 'marker keys are SHA-256 hashes');
      assert.equal(await pg.sql('SELECT version FROM postern_schema'), '2');
    } finally {
      await env.stop();
    }
  });

  it('a schema newer than the binary is a clear startup error', async () => {
    await pg.sql('UPDATE postern_schema SET version = 99');
    try {
      const port = await unusedPort();
      const r = await runPostern({
        config: {
          address: `127.0.0.1:${port}`, insecure_server: true, shared_secret: Buffer.alloc(32, 7).toString('base64'),
          databroker_storage_type: 'postgres', databroker_storage_connection_string: pg.url,
          routes: [{ from: 'http://127.0.0.1', to: 'http://127.0.0.1:9', allow_public_unauthenticated_access: true }],
        },
        timeoutMs: 20_000,
      });
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, /schema is version 99, newer than this Postern's \(2\)/);
      assert.doesNotMatch(r.stderr, /postgresql:\/\//, 'the connection string is not echoed');
    } finally {
      await pg.sql('UPDATE postern_schema SET version = 2');
    }
  });
});

describe('storage type', () => {
  const base = {
    insecure_server: true, address: '127.0.0.1:0',
    routes: [{ from: 'http://a.example', to: 'http://127.0.0.1:9', allow_public_unauthenticated_access: true }],
  };
  it('redis is refused with a message that says to use postgres; memory is accepted', async () => {
    const r = await runPostern({ config: { ...base, databroker_storage_type: 'redis', databroker_storage_connection_string: 'redis://x' }, args: ['validate'] });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /config\.yaml:\d+: databroker_storage_type: the redis storage type is not supported.*use postgres/);
    const m = await runPostern({ config: { ...base, databroker_storage_type: 'memory' }, args: ['validate'] });
    assert.equal(m.code, 0, m.stderr);
  });

  it('postgres without a connection string names the missing key', async () => {
    const r = await runPostern({ config: { ...base, databroker_storage_type: 'postgres' }, args: ['validate'] });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /databroker_storage_type: databroker_storage_type postgres needs databroker_storage_connection_string/);
  });
});

describe('the Okta directory behind the lease', { skip }, () => {
  const SSWS = '00postern-demo-ssws-token-0123456789abcdef';  // the demo seed's API token
  const b64 = (o) => Buffer.from(JSON.stringify(o)).toString('base64');

  it('one replica reads Okta and shares its state; the other enforces the same groups; the lease moves when the reader dies', async () => {
    const env = await startSignInEnv({
      sim, up,
      scopes: ['openid', 'profile', 'email', 'offline_access'],  // no groups claim: groups come from the directory
      config: {
        databroker_storage_type: 'postgres', databroker_storage_connection_string: pg.url,
        idp_service_account: b64({ api_key: SSWS }), idp_refresh_directory_interval: '2s',
      },
      routes: (u) => [
        { from: 'http://127.0.0.1', to: u.origin, prefix: '/finance/', allowed_groups: ['Finance'] },
        { from: 'http://127.0.0.1', to: u.origin, allow_any_authenticated_user: true },
      ],
    });
    env.b = await startReplica(env);
    env.routeB = `http://127.0.0.1:${env.portB}`;
    try {
      const leads = (p) => /directory lease taken/.test(p.stderr);
      const syncs = (p) => p.logs().filter((l) => l.msg === 'directory sync').length;
      await env.p.waitFor(() => syncs(env.p) + syncs(env.b) >= 1, { timeoutMs: 15_000, what: 'a directory sync' });
      const [reader, follower, followerBase] = leads(env.p) || syncs(env.p) > 0 ? [env.p, env.b, env.routeB] : [env.b, env.p, env.route];
      await follower.waitForLog((l) => l.msg === 'directory state loaded from the lease holder', { timeoutMs: 10_000 });
      await sleep(5000);  // a few more runs
      assert.equal(syncs(follower), 0, 'the follower never read Okta');
      assert.ok(syncs(reader) >= 2, 'the reader kept syncing');
      // bob is in Finance only according to the directory: the follower lets him in, and not alice.
      const bob = await login(env, USERS.bob);
      const alice = await login(env, USERS.alice);
      const finance = (cookie) => follower.request(`${followerBase}/finance/x`, { headers: { accept: JSON_ACCEPT, cookie: `_pomerium=${cookie}` } });
      assert.equal((await finance(bob.cookie)).status, 200);
      assert.equal((await finance(alice.cookie)).status, 403);
      // The reader dies: the follower takes the lease and reads Okta itself.
      reader.child.kill('SIGKILL');
      await reader.exited;
      reader.stopping = true;
      await follower.waitForLog((l) => l.msg === 'directory lease taken: this process reads Okta', { timeoutMs: 15_000 });
      await follower.waitFor(() => syncs(follower) >= 1, { timeoutMs: 10_000, what: 'a sync on the new reader' });
      assert.equal((await finance(bob.cookie)).status, 200);
    } finally {
      await env.b?.stop({ graceMs: 3000 });
      await env.stop().catch(() => {});
    }
  });
});
