// Session refresh with the refresh-token grant (issue 11): the simulator issues tokens that live seconds; Postern
// refreshes them shortly before they expire without the user noticing, once per expiry however many requests are
// in flight (the client rotates refresh tokens with no leeway, so a second refresh with the same token would make the
// simulator detect reuse and revoke the grant), re-reads userinfo and groups, keeps the session through a temporary
// IdP failure, ends it when the IdP refuses the grant, and never extends cookie_expire.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startUpstream, sleep } from './lib/index.mjs';
import {
  startSim, startSignInEnv, Browser, signIn, describeHops, echoOf, echoHeader, decodeJwt, stopAll, BROWSER_ACCEPT,
  JSON_ACCEPT, USERS,
} from './lib/signin.mjs';

const TOKEN_LIFETIME = 6;  // seconds: refreshed 2 s before expiry (refresh/schedule.h)

let sim, up;
before(async () => {
  [sim, up] = await Promise.all([startSim(), startUpstream({ name: 'session-refresh' })]);
  await sim.ctl('POST', 'lifetimes', { server: 'org', access_token: TOKEN_LIFETIME, id_token: TOKEN_LIFETIME });
});
after(() => stopAll(up?.stop, sim?.stop));

function routes(u) {
  const base = { from: 'http://127.0.0.1', to: u.origin, pass_identity_headers: true };
  return [
    { ...base, prefix: '/ops', allowed_groups: ['Ops'] },
    { ...base, allow_any_authenticated_user: true },
  ];
}

async function envWith({ config = {}, rotate = true, scopes } = {}) {
  return startSignInEnv({
    sim, up, routes, config, scopes,
    clientExtra: rotate ? { refresh_token: { rotation_type: 'ROTATE', leeway: 0 } } : {},
  });
}

async function login(env, user) {
  const browser = new Browser();
  const r = await signIn(browser, `${env.route}/start`, user.login, user.password);
  const cookie = browser.cookie('127.0.0.1', '_pomerium');
  assert.ok(cookie, `${user.login} got a session cookie:\n${describeHops(r.hops)}`);
  return cookie;
}

const get = (env, cookie, path = '/app', accept = JSON_ACCEPT) =>
  env.p.request(`${env.route}${path}`, { headers: { accept, cookie: `_pomerium=${cookie}` } });

async function tokenCalls(grant) {
  const { calls } = await sim.ctl('GET', 'calls?path_prefix=/oauth2/v1/token');
  return calls.filter((c) => c.grant_type === grant);
}

describe('refresh before expiry', () => {
  it('keeps a session alive through three token lifetimes, one refresh per expiry under 50 concurrent requests', async () => {
    const env = await envWith();
    try {
      await sim.ctl('DELETE', 'calls');
      const cookie = await login(env, USERS.alice);
      const start = Date.now();
      const statuses = new Map();
      const assertionSubjects = new Set();
      while (Date.now() - start < 3 * TOKEN_LIFETIME * 1000 + 1000) {
        const burst = await Promise.all(Array.from({ length: 50 }, () => get(env, cookie)));
        for (const r of burst) statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
        const echo = echoOf(burst[0]);
        assertionSubjects.add(decodeJwt(echoHeader(echo, 'x-pomerium-jwt-assertion')).email);
        await sleep(200);
      }
      assert.deepEqual([...statuses.keys()], [200], `every request passed: ${JSON.stringify([...statuses])}`);
      assert.deepEqual([...assertionSubjects], ['alice@example.com']);
      const refreshes = await tokenCalls('refresh_token');
      const elapsed = (Date.now() - start) / 1000;
      // One refresh per (lifetime - 2 s lead) = 4 s: 19 s gives 4 or 5; never two for the same expiry.
      assert.ok(refreshes.length >= Math.floor(elapsed / 4) - 1 && refreshes.length <= Math.ceil(elapsed / 4) + 1,
        `${refreshes.length} refreshes in ${elapsed.toFixed(1)} s: ${JSON.stringify(refreshes)}`);
      for (const c of refreshes) assert.equal(c.status, 200, `refresh answered ${c.status}`);
      const times = refreshes.map((c) => Date.parse(c.time)).sort((a, b) => a - b);
      for (let i = 1; i < times.length; i++) {
        assert.ok(times[i] - times[i - 1] > 2000, `two refreshes ${times[i] - times[i - 1]} ms apart (single flight)`);
      }
      // With ROTATE and no leeway a duplicate refresh would also have revoked the grant: every request passed.
    } finally {
      await env.stop();
    }
  });

  it('re-reads groups on refresh: a group added in Okta opens a route without signing in again', async () => {
    const env = await envWith({ scopes: ['openid', 'profile', 'email', 'offline_access', 'groups'] });
    try {
      await sim.ctl('POST', 'groups', { name: 'Ops' }).catch(() => {});
      const cookie = await login(env, USERS.bob);
      assert.equal((await get(env, cookie, '/ops/x')).status, 403, 'not in Ops yet');
      await sim.ctl('POST', 'groups/Ops/members', { users: [USERS.bob.login] });
      let status = 0;
      const deadline = Date.now() + TOKEN_LIFETIME * 1000 + 3000;
      while (Date.now() < deadline && status !== 200) {
        await sleep(500);
        status = (await get(env, cookie, '/ops/x')).status;
      }
      assert.equal(status, 200, 'the refreshed groups claim lets bob in');
      await sim.ctl('DELETE', `groups/Ops/members/${encodeURIComponent(USERS.bob.login)}`);
    } finally {
      await env.stop();
    }
  });
});

describe('refresh failures', () => {
  it('a temporary IdP failure is retried with backoff and the session is kept', async () => {
    const env = await envWith({ rotate: false });
    try {
      const cookie = await login(env, USERS.carol);
      await sim.ctl('DELETE', 'calls');
      await sim.ctl('POST', 'faults', { path_prefix: '/oauth2/v1/token', status: 503, count: 1 });
      const start = Date.now();
      const statuses = [];
      while (Date.now() - start < TOKEN_LIFETIME * 1000 + 3000) {
        statuses.push((await get(env, cookie)).status);
        await sleep(250);
      }
      assert.ok(statuses.every((s) => s === 200), `statuses: ${statuses.join(' ')}`);
      const calls = (await sim.ctl('GET', 'calls?path_prefix=/oauth2/v1/token')).calls;
      assert.equal(calls[0]?.status, 503, `the first refresh met the fault: ${JSON.stringify(calls)}`);
      assert.ok(calls.slice(1).some((c) => c.grant_type === 'refresh_token' && c.status === 200), 'a retry succeeded');
      const log = env.p.stderr;
      assert.match(log, /session refresh failed; will retry/);
    } finally {
      await env.sim.ctl('DELETE', 'faults');
      await env.stop();
    }
  });

  it('a deactivated user\'s next request after expiry goes to sign-in', async () => {
    const env = await envWith();
    try {
      await sim.ctl('POST', 'users', { login: 'erin@example.com', email: 'erin@example.com', firstName: 'Erin', lastName: 'E', password: 'erin-password' });
      const cookie = await login(env, { login: 'erin@example.com', password: 'erin-password' });
      assert.equal((await get(env, cookie)).status, 200);
      await sim.ctl('POST', 'users/erin@example.com/deactivate');
      await sleep(TOKEN_LIFETIME * 1000 + 1000);
      const b = await get(env, cookie, '/app', BROWSER_ACCEPT);
      assert.equal(b.status, 302, `${b.status} ${b.text.slice(0, 200)}`);
      assert.equal(new URL(b.headers.location).pathname, '/.pomerium/sign_in');
      assert.equal((await get(env, cookie)).status, 401);
      const refused = (await tokenCalls('refresh_token')).filter((c) => c.status === 400);
      assert.ok(refused.length >= 1, 'the IdP refused the refresh');
      assert.match(env.p.stderr, /session ended: the identity provider refused to refresh it/);
      assert.doesNotMatch(env.p.stderr, /refresh_token=|"refresh_token":"/, 'no token in the logs');
    } finally {
      await env.stop();
    }
  });

  it('cookie_expire stays an absolute bound however often the tokens are refreshed', async () => {
    const env = await envWith({ config: { cookie_expire: '9s' } });
    try {
      const cookie = await login(env, USERS.alice);
      const start = Date.now();
      while (Date.now() - start < 7000) {
        assert.equal((await get(env, cookie)).status, 200);
        await sleep(500);
      }
      await sleep(Math.max(0, 9500 - (Date.now() - start)));
      assert.equal((await get(env, cookie)).status, 401, 'past cookie_expire the session is over');
    } finally {
      await env.stop();
    }
  });
});
