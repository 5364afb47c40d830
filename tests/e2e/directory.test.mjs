// The Okta directory (issue 10, first part): with idp_service_account, group membership comes from Okta's
// Management API (the simulator's), not from the ID token: a group known only through the API grants access by name
// and by id; removing the member at Okta revokes it at the next sync, and the runs after the first re-list only what
// changed; a refused API token is one clear log line and requests keep being served; an OAuth service app gets its
// token by private_key_jwt and keeps it.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { startSim, startSignInEnv, Browser, signIn, describeHops, stopAll, echoOf, decodeJwt, USERS } from './lib/signin.mjs';
import { startPostern, startUpstream, runPostern } from './lib/index.mjs';

const SSWS = '00postern-demo-ssws-token-0123456789abcdef'; // the demo seed's API token
const b64 = (o) => Buffer.from(JSON.stringify(o)).toString('base64');
const NO_GROUPS_SCOPE = ['openid', 'profile', 'email', 'offline_access']; // the token carries no groups claim

let sim, env, group, bob;
const syncs = () => env.p.logs().filter((l) => l.msg === 'directory sync');

before(async () => {
  sim = await startSim();
  bob = await sim.ctl('GET', `users/${encodeURIComponent(USERS.bob.login)}`);
  [group] = (await sim.ctl('POST', 'groups', { groups: [{ name: 'Directory Only', members: [USERS.bob.login] }] })).groups;
  env = await startSignInEnv({
    sim,
    scopes: NO_GROUPS_SCOPE,
    config: { idp_service_account: b64({ api_key: SSWS }), idp_refresh_directory_interval: '1s' },
    routes: (up) => [
      { from: 'http://127.0.0.1', to: up.origin, prefix: '/by-name/', allowed_groups: ['Directory Only'] },
      { from: 'http://127.0.0.1', to: up.origin, prefix: '/by-id/', policy: { allow: { or: [{ groups: { has: group.id } }] } } },
      { from: 'http://127.0.0.1', to: up.origin, allow_any_authenticated_user: true, pass_identity_headers: true },
    ],
  });
  await env.p.waitFor(() => syncs()[0], { timeoutMs: 10_000, what: 'the first directory sync' });
});
after(() => stopAll(env?.stop, sim?.stop));

async function signedIn(who) {
  const b = new Browser();
  const r = await signIn(b, `${env.route}/hello`, USERS[who].login, USERS[who].password);
  assert.equal(r.res.status, 200, `${who} signs in:\n${describeHops(r.hops)}`);
  return b;
}

describe('Okta directory through the Management API', () => {
  let bobBrowser;

  it('syncs groups and members at start, and logs what it read', async () => {
    const first = syncs()[0];
    assert.ok(first.groups >= 3 && first.users >= 3, JSON.stringify(first));
    assert.ok(first.api_calls >= 1 + first.groups, 'one call for the groups, at least one per group');
    assert.ok(!env.p.stderr.includes(SSWS), 'the API token is never logged');
  });

  it('a group known only through the API grants access by name and by id', async () => {
    bobBrowser = await signedIn('bob');
    assert.equal((await bobBrowser.fetch(`${env.route}/by-name/x`)).status, 200);
    assert.equal((await bobBrowser.fetch(`${env.route}/by-id/x`)).status, 200);
    const alice = await signedIn('alice');
    assert.equal((await alice.fetch(`${env.route}/by-name/x`)).status, 403);
    assert.equal((await alice.fetch(`${env.route}/by-id/x`)).status, 403);
  });

  it('the identity assertion and /.pomerium/user list the Okta group ids and names', async () => {
    const res = await bobBrowser.fetch(`${env.route}/anything`, { headers: { accept: 'application/json' } });
    assert.equal(res.status, 200);
    const claims = decodeJwt(echoOf(res).headers['x-pomerium-jwt-assertion']);
    assert.ok(claims.groups.includes(group.id) && claims.groups.includes('Directory Only'), JSON.stringify(claims.groups));
    assert.ok(claims.groups.includes('Finance'), 'bob is in Finance in the seed');
    const user = await bobBrowser.fetch(`${env.route}/.pomerium/user`, { headers: { accept: 'application/json' } });
    assert.equal(user.status, 200);
    assert.ok(user.json().groups.includes('Directory Only'));
  });

  it('postern policy check reads the live directory (the user found by email)', async () => {
    const check = (login) =>
      runPostern({ argv: ['policy', 'check', '--config', '{config}', '--route', `${env.route}/by-name/x`, '--email', login], config: env.config });
    const r = await check(USERS.bob.login);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, new RegExp(`user ${bob.id}, \\d+ group ids and names from the Okta directory`));
    assert.match(r.stdout, /groups has "Directory Only" → true/);
    const a = await check(USERS.alice.login);
    assert.equal(a.code, 2, a.stdout + a.stderr);
  });

  it('removing the member at Okta revokes access at the next sync', async () => {
    await sim.ctl('DELETE', `groups/${group.id}/members/${bob.id}`);
    const seen = syncs().length;
    await env.p.waitFor(() => syncs().length >= seen + 2, { timeoutMs: 10_000, what: 'two more syncs' });
    assert.equal((await bobBrowser.fetch(`${env.route}/by-name/x`)).status, 403);
    assert.equal((await bobBrowser.fetch(`${env.route}/by-id/x`)).status, 403);
    const res = await bobBrowser.fetch(`${env.route}/other`, { headers: { accept: 'application/json' } });
    assert.equal(res.status, 200, 'still signed in');
    const claims = decodeJwt(echoOf(res).headers['x-pomerium-jwt-assertion']);
    assert.ok(!claims.groups.includes('Directory Only'), 'a new directory re-signs the cached assertion');
  });

  it('runs after the first are deltas: only the changed group is re-listed', async () => {
    const before = syncs().length;
    await sim.ctl('DELETE', 'calls');
    await sim.ctl('POST', `groups/${group.id}/members`, { users: [USERS.alice.login] });
    await env.p.waitFor(() => syncs().slice(before).some((l) => l.users_changed >= 1), { timeoutMs: 10_000, what: 'a delta that saw alice' });
    const delta = syncs().slice(before).find((l) => l.users_changed >= 1);
    assert.equal(delta.kind, 'delta');
    assert.equal(delta.groups_listed, 1, JSON.stringify(delta));
    assert.ok(delta.api_calls <= 3, `changed-group list, its members, changed-user list: ${JSON.stringify(delta)}`);
    const { calls } = await sim.ctl('GET', 'calls?path_prefix=/api/v1/');
    const memberLists = calls.filter((c) => /^\/api\/v1\/groups\/[^/?]+\/users/.test(c.path));
    assert.ok(memberLists.every((c) => c.path.startsWith(`/api/v1/groups/${group.id}/users`)), JSON.stringify(memberLists));
    assert.ok(calls.some((c) => c.path.startsWith('/api/v1/groups?filter=') && c.path.includes('lastMembershipUpdated')));
    const alice = await signedIn('alice');
    assert.equal((await alice.fetch(`${env.route}/by-name/x`)).status, 200);
  });
});

describe('an OAuth 2.0 service app instead of an API token', () => {
  let p, up;
  const jwk = JSON.parse(readFileSync(new URL('../okta-sim/seed/demo-service-app.private.jwk.json', import.meta.url), 'utf8'));
  const start = (account) => startPostern({
    config: {
      address: '127.0.0.1:0',
      insecure_server: true,
      authenticate_service_url: 'http://localhost:1',
      idp_provider: 'okta',
      idp_provider_url: `${sim.url}/oauth2/default`,
      idp_client_id: 'x',
      idp_client_secret: 'y',
      idp_service_account: b64(account),
      idp_refresh_directory_interval: '1s',
      routes: [{ from: 'http://public.example.test', to: up.origin, allow_public_unauthenticated_access: true }],
    },
  });
  before(async () => { up = await startUpstream({ name: 'directory-service-app' }); });
  after(() => stopAll(() => p?.stopAndCheck(), up?.stop));

  it('gets a token by client credentials (private_key_jwt) and keeps it across runs', async () => {
    await sim.ctl('DELETE', 'calls');
    p = await start({ client_id: 'postern-directory-sync', private_key: jwk, key_id: jwk.kid });
    await p.waitFor(() => p.logs().filter((l) => l.msg === 'directory sync').length >= 3, { timeoutMs: 15_000, what: 'three syncs' });
    assert.ok(!p.logs().some((l) => l.msg?.startsWith('directory sync failed')), p.stderr);
    const { calls } = await sim.ctl('GET', 'calls');
    const tokens = calls.filter((c) => c.path === '/oauth2/v1/token');
    assert.equal(tokens.length, 1, 'one token, cached for its hour');
    assert.equal(tokens[0].status, 200);
    assert.ok(!p.stderr.includes(jwk.d), 'the private key is never logged');
    await p.stopAndCheck();
    p = undefined;
  });

  it('a key Okta does not know is one clear log line naming the app; requests keep being served', async () => {
    const other = { ...jwk, kid: 'not-registered-kid' };
    p = await start({ client_id: 'postern-directory-sync', private_key: other });
    const line = await p.waitFor(() => p.logs().find((l) => l.msg?.startsWith('directory sync failed')), { timeoutMs: 10_000, what: 'the failed sync' });
    assert.match(line.error, /postern-directory-sync got no token \(HTTP 401, invalid_client/);
    assert.match(line.credential, /OAuth service app/);
    assert.equal((await p.request('http://public.example.test/')).status, 200);
  });

  it('a private key that cannot sign is refused at start, naming idp_service_account', async () => {
    const r = await runPostern({
      argv: ['--config', '{config}'],
      config: {
        address: '127.0.0.1:0', insecure_server: true, authenticate_service_url: 'http://localhost:1',
        idp_provider: 'okta', idp_provider_url: sim.url, idp_client_id: 'x', idp_client_secret: 'y',
        idp_service_account: b64({ client_id: 'postern-directory-sync', private_key: 'SECRET-NOT-A-KEY' }),
        routes: [{ from: 'http://public.example.test', to: 'http://127.0.0.1:9', allow_public_unauthenticated_access: true }],
      },
      timeoutMs: 10_000,
    });
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /idp_service_account: private_key is not a PEM private key/);
    assert.ok(!r.stderr.includes('SECRET-NOT-A-KEY'));
  });
});

describe('a refused API token', () => {
  let p, up;
  before(async () => {
    up = await startUpstream({ name: 'directory-bad-token' });
    p = await startPostern({
      config: {
        address: '127.0.0.1:0',
        insecure_server: true,
        authenticate_service_url: 'http://localhost:1',
        idp_provider: 'okta',
        idp_provider_url: sim.url,
        idp_client_id: 'x',
        idp_client_secret: 'y',
        idp_service_account: JSON.stringify({ api_key: 'wrong-token-value-1234' }), // raw JSON, as Pomerium accepts
        routes: [{ from: 'http://public.example.test', to: up.origin, allow_public_unauthenticated_access: true }],
      },
    });
  });
  after(() => stopAll(() => p?.stopAndCheck(), up?.stop));

  it('is one clear log line; requests keep being served; the token is never logged', async () => {
    const line = await p.waitFor(() => p.logs().find((l) => l.msg?.startsWith('directory sync failed')), {
      timeoutMs: 10_000,
      what: 'the failed sync line',
    });
    assert.match(line.error, /HTTP 401/);
    assert.match(line.error, /E0000011/);
    assert.match(line.credential, /idp_service_account/);
    assert.equal((await p.request('http://public.example.test/')).status, 200);
    assert.ok(!p.stderr.includes('wrong-token-value-1234'));
  });
});
