// Revocation in seconds (issue 10): Postern watches Okta's System Log. A suspension or deactivation at Okta ends the
// user's Postern sessions within 15 s, although their tokens are good for an hour and the next directory sync is an
// hour away; a membership added at Okta is honoured without waiting for that sync either.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startSim, startSignInEnv, Browser, signIn, describeHops, stopAll, USERS } from './lib/signin.mjs';

const SSWS = '00postern-demo-ssws-token-0123456789abcdef';
let sim, env;

before(async () => {
  sim = await startSim();
  env = await startSignInEnv({
    sim,
    scopes: ['openid', 'profile', 'email', 'offline_access'],
    config: { idp_service_account: JSON.stringify({ api_key: SSWS }), idp_refresh_directory_interval: '1h' },
    routes: (up) => [
      { from: 'http://127.0.0.1', to: up.origin, prefix: '/finance/', allowed_groups: ['Finance'] },
      { from: 'http://127.0.0.1', to: up.origin, allow_any_authenticated_user: true },
    ],
  });
  await env.p.waitFor(() => env.p.logs().find((l) => l.msg === 'directory sync'), { timeoutMs: 10_000, what: 'the first sync' });
});
after(() => stopAll(env?.stop, sim?.stop));

async function signedIn(who) {
  const b = new Browser();
  const r = await signIn(b, `${env.route}/hello`, USERS[who].login, USERS[who].password);
  assert.equal(r.res.status, 200, `${who} signs in:\n${describeHops(r.hops)}`);
  return b;
}

// Polls `check` every 250 ms for up to `ms`; resolves how long it took.
async function within(ms, check, what) {
  const start = Date.now();
  while (Date.now() - start < ms) {
    if (await check()) return Date.now() - start;
    await new Promise((r) => setTimeout(r, 250));
  }
  assert.fail(`${what} did not happen within ${ms} ms`);
}

describe('Okta System Log', () => {
  it('a suspension at Okta ends the user\'s sessions within 15 s', async () => {
    const carol = await signedIn('carol');
    assert.equal((await carol.fetch(`${env.route}/x`)).status, 200);
    await sim.ctl('POST', `users/${encodeURIComponent(USERS.carol.login)}/suspend`);
    const took = await within(15_000, async () => (await carol.fetch(`${env.route}/x`)).status === 302, 'carol sent to sign in');
    const line = env.p.logs().find((l) => l.msg === 'okta event: sessions ended');
    assert.equal(line.event, 'user.lifecycle.suspend');
    assert.equal(line.sessions, 1);
    assert.ok(took < 15_000);
  });

  it('a deactivation does the same', async () => {
    const bob = await signedIn('bob');
    assert.equal((await bob.fetch(`${env.route}/finance/x`)).status, 200);
    await sim.ctl('POST', `users/${encodeURIComponent(USERS.bob.login)}/deactivate`);
    await within(15_000, async () => (await bob.fetch(`${env.route}/finance/x`)).status === 302, 'bob sent to sign in');
  });

  it('a membership added at Okta is honoured within seconds, without waiting for the hourly sync', async () => {
    const alice = await signedIn('alice');
    assert.equal((await alice.fetch(`${env.route}/finance/x`)).status, 403);
    await sim.ctl('POST', 'groups/Finance/members', { users: [USERS.alice.login] });
    await within(15_000, async () => (await alice.fetch(`${env.route}/finance/x`)).status === 200, 'alice let into /finance/');
    assert.equal(env.p.logs().filter((l) => l.msg === 'directory sync').length, 1, 'no second full sync was needed');
  });
});
