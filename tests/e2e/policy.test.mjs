// Route policies through the real binary, signed in at the Okta simulator: the legacy allow keys, Pomerium's policy
// language (users, domains, groups from the ID token's groups claim, claims, methods, paths, CORS preflight,
// source_ip), deny over allow, the sign-in dance vs an immediate 403, the path-confusion list, the 403 page (HTML and
// JSON, with show_error_details), the `authorize check` log line and policy_mode: report.
//
// Users of the simulator's demo seed: alice (Engineering), bob (Finance), carol (Engineering and Finance).

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { request } from './lib/http.mjs';
import { startPostern, startUpstream } from './lib/index.mjs';
import { startSignInEnv, Browser, signIn, describeHops, echoOf, stopAll, JSON_ACCEPT, USERS } from './lib/signin.mjs';

let env;
const browsers = {};
const route = (extra) => ({ from: 'http://127.0.0.1', pass_identity_headers: true, ...extra });

before(async () => {
  env = await startSignInEnv({
    scopes: ['openid', 'profile', 'email', 'groups', 'offline_access'],
    routes: (up) => [
      route({ to: up.origin, prefix: '/users/', allowed_users: [USERS.alice.login] }),
      route({ to: up.origin, prefix: '/domains/', allowed_domains: ['example.com'],
              policy: { deny: { or: [{ email: { is: USERS.bob.login } }] } } }),
      route({ to: up.origin, prefix: '/legacy-groups/', allowed_groups: ['Engineering'] }),
      route({ to: up.origin, prefix: '/groups/', policy: { allow: { and: [{ groups: { has: 'Finance' } }, { groups: { exclude: 'Engineering' } }] } } }),
      route({ to: up.origin, prefix: '/claims/', allowed_idp_claims: { family_name: ['Anderson'] },
              policy: { allow: { or: [{ 'claim/given_name': 'Carol' }] } } }),
      route({ to: up.origin, prefix: '/methods/', policy: [
        { allow: { or: [{ authenticated_user: true }] } },
        { deny: { not: [{ http_method: { in: ['GET', 'HEAD'] } }] } },
      ] }),
      route({ to: up.origin, prefix: '/cors/', allow_any_authenticated_user: true, cors_allow_preflight: true }),
      route({ to: up.origin, prefix: '/office/', policy: { allow: { or: [{ source_ip: ['10.0.0.0/8', '192.168.0.0/16'] }] } } }),
      route({ to: up.origin, prefix: '/loopback/', policy: { allow: { or: [{ source_ip: '127.0.0.0/8' }] } } }),
      route({ to: up.origin, prefix: '/details/', show_error_details: true,
              policy: { allow: { and: [{ email: { ends_with: '@example.com' } }, { groups: { has: 'Finance' } }] } } }),
      route({ to: up.origin, prefix: '/report/', allowed_domains: ['example.com'], policy_mode: 'report',
              policy: { deny: { or: [{ groups: { has: 'Finance' } }] } } }),
      route({ to: up.origin, policy: [
        { allow: { or: [{ authenticated_user: true }] } },
        { deny: { or: [{ http_path: { starts_with: '/admin' } }] } },
      ] }),
    ],
  });
  for (const name of ['alice', 'bob', 'carol']) {
    const b = new Browser();
    const r = await signIn(b, `${env.route}/hello`, USERS[name].login, USERS[name].password);
    assert.equal(r.res.status, 200, `${name} signs in:\n${describeHops(r.hops)}\n${r.res.text.slice(0, 300)}`);
    browsers[name] = b;
  }
});
after(() => stopAll(env?.stop));

const get = (who, path, opts = {}) => browsers[who].fetch(`${env.route}${path}`, opts);
const anon = (path, opts = {}) => new Browser().fetch(`${env.route}${path}`, opts);
const status = async (who, path, opts) => (await get(who, path, opts)).status;

describe('route policies with the Okta simulator', () => {
  it('allowed_users admits only the listed user', async () => {
    assert.equal(await status('alice', '/users/x'), 200);
    assert.equal(await status('bob', '/users/x'), 403);
  });

  it('allowed_domains with a PPL deny: the deny wins for bob', async () => {
    assert.equal(await status('alice', '/domains/x'), 200);
    assert.equal(await status('carol', '/domains/x'), 200);
    assert.equal(await status('bob', '/domains/x'), 403);
  });

  it('allowed_groups and the groups criterion read the ID token groups claim (names)', async () => {
    assert.equal(await status('alice', '/legacy-groups/x'), 200);
    assert.equal(await status('carol', '/legacy-groups/x'), 200);
    assert.equal(await status('bob', '/legacy-groups/x'), 403);
    // has Finance and exclude Engineering: bob only
    assert.equal(await status('bob', '/groups/x'), 200);
    assert.equal(await status('carol', '/groups/x'), 403);
    assert.equal(await status('alice', '/groups/x'), 403);
  });

  it('allowed_idp_claims and claim/<name> match the session claims, OR-ed with each other', async () => {
    assert.equal(await status('alice', '/claims/x'), 200); // family_name Anderson
    assert.equal(await status('carol', '/claims/x'), 200); // given_name Carol
    assert.equal(await status('bob', '/claims/x'), 403);
  });

  it('http_method under deny/not: only GET and HEAD pass', async () => {
    assert.equal(await status('alice', '/methods/x'), 200);
    assert.equal(await status('alice', '/methods/x', { method: 'HEAD' }), 200);
    assert.equal(await status('alice', '/methods/x', { method: 'POST', body: 'x' }), 403);
    assert.equal(await status('alice', '/methods/x', { method: 'DELETE' }), 403);
  });

  it('a request no identity could make pass is denied at once; one that depends on the user goes to sign-in', async () => {
    const del = await anon('/methods/x', { method: 'DELETE' });
    assert.equal(del.status, 403, 'DELETE is denied whoever signs in: no sign-in dance');
    const getRes = await anon('/methods/x');
    assert.equal(getRes.status, 302);
    assert.match(getRes.location, /\/\.pomerium\/sign_in/);
    const api = await anon('/methods/x', { headers: { accept: JSON_ACCEPT } });
    assert.equal(api.status, 401);
  });

  it('cors_allow_preflight lets a preflight through without a session, and only a preflight', async () => {
    const pre = await anon('/cors/x', {
      method: 'OPTIONS',
      headers: { origin: 'https://app.example.com', 'access-control-request-method': 'POST' },
    });
    assert.equal(pre.status, 200, pre.text.slice(0, 300));
    const notPre = await anon('/cors/x', { method: 'OPTIONS', headers: { origin: 'https://app.example.com' } });
    assert.equal(notPre.status, 302);
  });

  it('source_ip: public by address, no sign-in needed', async () => {
    assert.equal((await anon('/loopback/x')).status, 200);
    assert.equal((await anon('/office/x')).status, 403);
    assert.equal(await status('alice', '/office/x'), 403);
  });

  it('a deny on /admin holds for every spelling of /admin; case is kept; the upstream gets the normalised path', async () => {
    const cookie = browsers.alice.cookieHeader(`${env.route}/`);
    const raw = (path, headers = {}) =>
      request({ port: env.port, path, headers: { host: `127.0.0.1:${env.port}`, cookie, ...headers } });
    for (const path of ['/admin', '/%61dmin', '//admin', '/./admin', '/x/../admin', '/%2e/admin', '/x/%2E%2E/admin', '/admin/'])
      assert.equal((await raw(path)).status, 403, path);
    const upper = await raw('/ADMIN');
    assert.equal(upper.status, 200, '/ADMIN is another path');
    const hello = await raw('/x/../%68ello//world');
    assert.equal(hello.status, 200);
    assert.equal(echoOf(hello).path, '/hello/world');
    for (const path of ['/%2Fadmin', '/a%2fb', '/a%5Cb', '/bad%zz', '/public\\..\\admin', '/public\\admin'])
      assert.equal((await raw(path)).status, 400, path);
    const underscore = await raw('/hello', { x_user: 'admin' });
    assert.equal(underscore.status, 400, 'header names with underscores are refused');
  });

  it('the 403 page names the request id and the signed-in user; JSON for API clients; reasons only with show_error_details', async () => {
    const page = await get('bob', '/users/x');
    assert.equal(page.status, 403);
    assert.match(page.headers['content-type'], /text\/html/);
    assert.match(page.text, /bob@example\.com/);
    assert.match(page.text, new RegExp(page.headers['x-request-id']));
    assert.doesNotMatch(page.text, /allowed_users|Why/);
    const json = await get('bob', '/users/x', { headers: { accept: JSON_ACCEPT } });
    assert.equal(json.status, 403);
    const body = json.json();
    assert.equal(body.status, 403);
    assert.equal(body.email, USERS.bob.login);
    assert.equal(body.request_id, json.headers['x-request-id']);
    assert.equal(body.details, undefined);

    const detailed = await get('alice', '/details/x', { headers: { accept: JSON_ACCEPT } });
    assert.equal(detailed.status, 403);
    const d = detailed.json();
    assert.deepEqual(d.details, [
      'no allow rule holds',
      'routes[9].policy allow.and: email ends_with "@example.com" → true',
      'routes[9].policy allow.and: groups has "Finance" → false',
    ]);
    const html = await get('alice', '/details/x');
    assert.match(html.text, /groups has &quot;Finance&quot; → false/);
    assert.equal(await status('carol', '/details/x'), 200);
  });

  it('one authorize check line per decision, with the decision, the reasons and no secrets', async () => {
    const res = await get('bob', '/users/secret?code=hunter2');
    const id = res.headers['x-request-id'];
    const line = await env.p.waitFor(() => env.p.authorizeLog().find((l) => l['request-id'] === id), { what: 'authorize line' });
    assert.equal(line.decision, 'deny');
    assert.equal(line.email, USERS.bob.login);
    assert.equal(line.path, '/users/secret');
    assert.equal(line.mode, 'enforce');
    assert.equal(line['groups-count'], 1);
    assert.equal(line['route-id'], 'http://127.0.0.1');
    assert.ok(line.reasons.includes('no allow rule holds'), JSON.stringify(line.reasons));
    assert.ok(!env.p.stdout.includes('hunter2'), 'the query string is never logged');
    assert.ok(!env.p.stdout.includes(browsers.bob.cookie('127.0.0.1', '_pomerium')), 'the cookie is never logged');
  });

  it('policy_mode: report enforces the legacy keys and logs what enforcing the policy would decide', async () => {
    const res = await get('bob', '/report/x');
    assert.equal(res.status, 200, 'allowed by allowed_domains');
    const id = res.headers['x-request-id'];
    const lines = await env.p.waitFor(() => {
      const l = env.p.authorizeLog().filter((x) => x['request-id'] === id);
      return l.length === 2 ? l : undefined;
    }, { what: 'two authorize lines' });
    const enforced = lines.find((l) => l.mode === 'enforce');
    const reported = lines.find((l) => l.mode === 'report');
    assert.equal(enforced.decision, 'allow');
    assert.equal(reported.decision, 'deny', 'bob is in Finance: the new deny rule would refuse him');
    assert.ok(reported.reasons.some((r) => /deny\.or: groups has "Finance" → true/.test(r)), JSON.stringify(reported.reasons));
    assert.equal(await status('alice', '/report/x'), 200);
  });
});

describe('source_ip behind trusted proxies', () => {
  let p;
  let up;
  before(async () => {
    up = await startUpstream({ name: 'policy-xff' });
    p = await startPostern({
      config: {
        address: '127.0.0.1:0',
        insecure_server: true,
        xff_num_trusted_hops: 1,
        routes: [{ from: 'http://office.example.test', to: up.origin, policy: { allow: { or: [{ source_ip: '10.0.0.0/8' }] } } }],
      },
    });
  });
  after(() => stopAll(() => p?.stopAndCheck(), up?.stop));

  it('reads the client address the trusted hop reports (xff_num_trusted_hops), and nothing else', async () => {
    const from = (xff) => p.request('http://office.example.test/', { headers: xff ? { 'x-forwarded-for': xff } : {} });
    assert.equal((await from('10.1.2.3')).status, 200);
    assert.equal((await from('8.8.8.8')).status, 403);
    assert.equal((await from('10.9.9.9, 8.8.8.8')).status, 403, 'only the last (trusted) hop counts');
    assert.equal((await from(undefined)).status, 403, 'the peer 127.0.0.1 is not in 10.0.0.0/8');
    const line = await p.waitFor(() => p.authorizeLog().find((l) => l.ip === '8.8.8.8'), { what: 'authorize line' });
    assert.equal(line.decision, 'deny');
  });
});
