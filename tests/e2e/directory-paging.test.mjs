// The Okta directory sync against a larger org and a stingy rate limit (issue 10): every page followed through
// Link rel="next" (groups with limit=200, members with limit=1000, Okta's maximum there), and a 429 answered by waiting for Okta's reset — no call into that bucket before
// it (no burst), timed by the simulator's own clock.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { request } from './lib/http.mjs';
import { startPostern, runPostern, startUpstream } from './lib/index.mjs';
import { startSim, stopAll, USERS } from './lib/signin.mjs';

const SSWS = '00postern-demo-ssws-token-0123456789abcdef';
const apiConfig = (sim, routes) => ({
  address: '127.0.0.1:0',
  insecure_server: true,
  authenticate_service_url: 'http://localhost:1',
  idp_provider: 'okta',
  idp_provider_url: `${sim.url}/oauth2/default`, // the Management API is reached at the org all the same
  idp_client_id: 'x',
  idp_client_secret: 'y',
  idp_service_account: Buffer.from(JSON.stringify({ api_key: SSWS })).toString('base64'),
  idp_refresh_directory_interval: '1h',
  routes,
});
const pad = (i) => String(i).padStart(3, '0');

describe('a directory of 1050 users and 450 groups', () => {
  let sim, p, up;
  before(async () => {
    sim = await startSim();
    up = await startUpstream({ name: 'directory-paging' });
    const users = Array.from({ length: 1050 }, (_, i) => ({ login: `u${pad(i)}@example.com`, email: `u${pad(i)}@example.com`, firstName: 'U', lastName: pad(i) }));
    await sim.ctl('POST', 'users', { users });
    const groups = Array.from({ length: 450 }, (_, i) => ({ name: `g${pad(i)}` }));
    groups.push({ name: 'Big', members: users.map((u) => u.login) });
    groups[449].members = [USERS.bob.login];
    await sim.ctl('POST', 'groups', { groups });
    await sim.ctl('DELETE', 'calls');
    p = await startPostern({
      config: apiConfig(sim, [{ from: 'http://app.example.test', to: up.origin, allowed_groups: ['g449'] },
                              { from: 'http://big.example.test', to: up.origin, allowed_groups: ['Big'] }]),
    });
  });
  after(() => stopAll(() => p?.stopAndCheck(), up?.stop, sim?.stop));

  it('reads every page: 3 of groups, 2 of Big\'s 1050 members, one per other group', async () => {
    const line = await p.waitFor(() => p.logs().find((l) => l.msg === 'directory sync'), { timeoutMs: 20_000, what: 'the sync' });
    assert.equal(line.groups, 453); // 450 + Big + the seed's Engineering and Finance
    assert.ok(line.users >= 1052, JSON.stringify(line));
    const { calls } = await sim.ctl('GET', 'calls?path_prefix=/api/v1/groups');
    const lists = calls.filter((c) => /^\/api\/v1\/groups\?/.test(c.path));
    assert.equal(lists.length, 3);
    assert.ok(lists.every((c) => c.path.includes('limit=200')));
    assert.equal(lists.filter((c) => c.path.includes('after=')).length, 2, 'pages 2 and 3 through rel="next"');
    const memberCalls = calls.filter((c) => /^\/api\/v1\/groups\/[^/?]+\/users/.test(c.path));
    assert.ok(memberCalls.every((c) => c.path.includes('limit=1000')));
    assert.equal(memberCalls.filter((c) => c.path.includes('after=')).length, 1, 'Big\'s second page through rel="next"');
    assert.equal(memberCalls.length, 454);
    assert.equal(line.api_calls, 3 + 454);
    assert.ok(calls.every((c) => c.status === 200));
  });

  it('answers from what it read: a group on the last page, a member on the second page of Big', async () => {
    // Each check reads the whole directory (454 member-list calls): a fresh rate-limit window for each, or it would
    // rightly wait for the next one (half of every bucket is left to the org's other clients).
    const check = async (route, login) => {
      await sim.ctl('DELETE', 'rate-limit');
      return runPostern({ argv: ['policy', 'check', '--config', '{config}', '--route', route, '--email', login], config: apiConfig(sim, [
        { from: 'http://app.example.test', to: up.origin, allowed_groups: ['g449'] },
        { from: 'http://big.example.test', to: up.origin, allowed_groups: ['Big'] }]) });
    };
    assert.equal((await check('http://app.example.test/', USERS.bob.login)).code, 0);
    assert.equal((await check('http://app.example.test/', USERS.alice.login)).code, 2);
    const last = await check('http://big.example.test/', 'u1049@example.com');
    assert.equal(last.code, 0, last.stdout + last.stderr);
  });
});

describe('a rate-limited bucket', () => {
  let sim;
  before(async () => {
    sim = await startSim();
  });
  after(() => stopAll(sim?.stop));

  it('a 429 waits for Okta\'s reset: no call into the bucket before it, then the sync completes', async () => {
    // Use up the member-list bucket ourselves, then move the simulator's clock so its window ends in a few seconds.
    // 8 a minute: the sync's 3 member-list calls fit in the half of a fresh window it allows itself.
    await sim.ctl('POST', 'rate-limit', { bucket: '/api/v1/groups/{id}', limit: 8 });
    const { groups } = await sim.ctl('POST', 'groups', { groups: [{ name: 'Limited', members: [USERS.carol.login] }] });
    const port = Number(new URL(sim.url).port);
    for (let i = 0; i < 8; i++) {
      const r = await request({ port, path: `/api/v1/groups/${groups[0].id}`, headers: { authorization: `SSWS ${SSWS}` } });
      assert.equal(r.status, 200);
    }
    await sim.ctl('POST', 'clock', { advance: 55 });
    await sim.ctl('DELETE', 'calls');
    const r = await runPostern({
      argv: ['policy', 'check', '--config', '{config}', '--route', 'http://app.example.test/', '--email', USERS.carol.login],
      config: apiConfig(sim, [{ from: 'http://app.example.test', to: 'http://127.0.0.1:9', allowed_groups: ['Limited'] }]),
      timeoutMs: 30_000,
    });
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const { calls } = await sim.ctl('GET', 'calls?path_prefix=/api/v1/groups/');
    const limited = calls.findIndex((c) => c.status === 429);
    assert.ok(limited >= 0, `a 429 was seen: ${JSON.stringify(calls)}`);
    assert.equal(calls.filter((c) => c.status === 429).length, 1, 'one 429, then it waited');
    const next = calls[limited + 1];
    assert.ok(next, 'the sync went on after the 429');
    const windowEnd = Date.parse(calls[limited].time) + 5_000; // the window ends ≤ 5 s after the 429 (55 s advance)
    assert.ok(Date.parse(next.time) >= windowEnd - 1_000, `next call at ${next.time}, the 429 at ${calls[limited].time}`);
    assert.ok(calls.slice(limited + 1).every((c) => c.status === 200));
  });
});
