// Where Postern must answer exactly as Pomerium does for the tools and pages that rely on it (issue 14):
// X-Forwarded-Host only when the Host is rewritten, Postern's own error answers marked
// `x-pomerium-intercepted-response: true`, robots.txt for routes crawlers may not see, the user info page as data
// (`Accept: application/json`, and a JSON block in the HTML), and a plain-http identity provider URL that starts
// with one loud warning.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startUpstream, startPostern, runPostern, unusedPort, request, rawRequest } from './lib/index.mjs';
import { startSim, startSignInEnv, Browser, signIn, describeHops, echoOf, decodeJwt, stopAll, BROWSER_ACCEPT, JSON_ACCEPT, USERS } from './lib/signin.mjs';

let sim, up, env;
before(async () => {
  [sim, up] = await Promise.all([startSim(), startUpstream({ name: 'surface' })]);
  env = await startSignInEnv({
    sim, up,
    scopes: ['openid', 'profile', 'email', 'offline_access', 'groups'],
    config: { runtime_flags: { pomerium_jwt_endpoint: true } },
    routes: (u) => [
      { from: 'http://127.0.0.1', to: u.origin, prefix: '/public', allow_public_unauthenticated_access: true },
      { from: 'http://127.0.0.1', to: u.origin, prefix: '/kept-host', allow_public_unauthenticated_access: true, preserve_host_header: true },
      { from: 'http://127.0.0.1', to: u.origin, prefix: '/finance', allowed_groups: ['Finance'], name: 'Finance',
        description: 'Ledgers & <budgets>', logo_url: 'https://cdn.example.com/finance.png' },
      { from: 'http://127.0.0.1', to: 'http://127.0.0.1:9', prefix: '/down', allow_public_unauthenticated_access: true },
      { from: 'http://127.0.0.1', to: u.origin, allow_any_authenticated_user: true, name: 'Everything else', pass_identity_headers: true },
    ],
  });
});
after(() => stopAll(env?.stop, up?.stop, sim?.stop));

const get = (path, headers = {}) => env.p.request(`${env.route}${path}`, { headers: { accept: JSON_ACCEPT, ...headers } });

async function login(user = USERS.alice) {
  const b = new Browser();
  const r = await signIn(b, `${env.route}/start`, user.login, user.password);
  const cookie = b.cookie('127.0.0.1', '_pomerium');
  assert.ok(cookie, describeHops(r.hops));
  return cookie;
}

describe('request hygiene as Pomerium', () => {
  it('X-Forwarded-Host is added when the Host is rewritten, not with preserve_host_header', async () => {
    const rewritten = echoOf(await get('/public/x'));
    assert.equal(rewritten.headers['x-forwarded-host'], `127.0.0.1:${env.port}`);
    const kept = echoOf(await get('/kept-host/x'));
    assert.equal(kept.headers['x-forwarded-host'], undefined, JSON.stringify(kept.headers));
    assert.equal(kept.headers.host, `127.0.0.1:${env.port}`, 'the upstream sees the original Host');
  });
});

describe("Postern's own answers", () => {
  it('are marked x-pomerium-intercepted-response: true (no route, upstream down, denied, sign-in needed); the upstream\'s are not', async () => {
    const unknown = await env.p.request(`http://nobody.example.test:${env.port}/x`, { headers: { accept: JSON_ACCEPT } });
    assert.equal(unknown.status, 404);
    assert.equal(unknown.headers['x-pomerium-intercepted-response'], 'true');
    const down = await get('/down/x');
    assert.equal(down.status, 503);
    assert.equal(down.headers['x-pomerium-intercepted-response'], 'true');
    const anonymous = await get('/anything');
    assert.equal(anonymous.status, 401);
    assert.equal(anonymous.headers['x-pomerium-intercepted-response'], 'true');
    const cookie = await login(USERS.alice);
    const denied = await get('/finance/x', { cookie: `_pomerium=${cookie}` });
    assert.equal(denied.status, 403);
    assert.equal(denied.headers['x-pomerium-intercepted-response'], 'true');
    const upstream404 = await get('/public/status/404');
    assert.equal(upstream404.headers['x-pomerium-intercepted-response'], undefined, 'the upstream\'s own answer');
  });

  it('/robots.txt keeps crawlers out of routes that need sign-in or deny, and of the authenticate host', async () => {
    const protectedRobots = await get('/robots.txt', { accept: 'text/plain' });
    assert.equal(protectedRobots.status, 200);
    assert.equal(protectedRobots.text, 'User-agent: *\nDisallow: /\n');
    const authRobots = await env.p.request(`${env.auth}/robots.txt`);
    assert.equal(authRobots.status, 200);
    assert.match(authRobots.text, /Disallow: \//);
  });
});

describe('the user info page as data', () => {
  it('/.pomerium/ answers JSON to Accept: application/json and carries the same facts in its HTML', async () => {
    const cookie = await login(USERS.carol);
    const data = await get('/.pomerium/', { cookie: `_pomerium=${cookie}` });
    assert.equal(data.status, 200, data.text.slice(0, 200));
    assert.match(data.headers['content-type'], /application\/json/);
    const info = JSON.parse(data.text);
    assert.equal(info.page, 'UserInfo');
    assert.equal(info.user.email, 'carol@example.com');
    assert.ok(info.user.id.startsWith('00u'));
    assert.ok(info.session.id && info.session.expires_at > Date.now() / 1000);
    assert.equal(info.claims.email, 'carol@example.com');
    assert.ok(info.claims.sub, 'the ID token claims');
    assert.deepEqual([...info.groups].sort(), ['Engineering', 'Finance']);
    assert.ok(!data.text.includes('eyJ'), 'no token in the data');
    const html = await get('/.pomerium/', { cookie: `_pomerium=${cookie}`, accept: BROWSER_ACCEPT });
    assert.match(html.headers['content-type'], /text\/html/);
    const block = /<script type="application\/json" id="pomerium-data">([\s\S]*?)<\/script>/.exec(html.text);
    assert.ok(block, 'the HTML has the data block');
    assert.deepEqual(JSON.parse(block[1]), info);
    const anonymous = await get('/.pomerium/');
    assert.equal(anonymous.status, 401);
  });
});

describe('more of Pomerium\'s endpoints', () => {
  it('/.pomerium/api/v1/routes and /.pomerium/routes list the routes this user may reach, with name, description and logo', async () => {
    const carol = await login(USERS.carol);  // Engineering and Finance
    const alice = await login(USERS.alice);  // Engineering only
    const list = async (cookie) => JSON.parse((await get('/.pomerium/api/v1/routes', { cookie: `_pomerium=${cookie}` })).text).routes;
    const forCarol = await list(carol);
    const finance = forCarol.find((r) => r.name === 'Finance');
    assert.ok(finance, JSON.stringify(forCarol));
    assert.equal(finance.description, 'Ledgers & <budgets>');
    assert.equal(finance.logo_url, 'https://cdn.example.com/finance.png');
    assert.equal(finance.from, 'http://127.0.0.1/finance');
    assert.equal(finance.type, 'http');
    assert.ok(forCarol.some((r) => r.name === 'Everything else'));
    const forAlice = await list(alice);
    assert.ok(!forAlice.some((r) => r.name === 'Finance'), 'alice may not reach Finance');
    assert.ok(forAlice.some((r) => r.name === 'Everything else'));
    const page = await get('/.pomerium/routes', { cookie: `_pomerium=${carol}`, accept: BROWSER_ACCEPT });
    assert.equal(page.status, 200);
    assert.match(page.text, /<a href="http:\/\/127\.0\.0\.1\/finance">Finance<\/a>/);
    assert.ok(page.text.includes('Ledgers &amp; &lt;budgets&gt;'), 'escaped');
    assert.equal((await get('/.pomerium/api/v1/routes')).status, 401);
  });

  it('/.pomerium/jwt (runtime flag pomerium_jwt_endpoint) answers the assertion upstreams receive', async () => {
    const cookie = await login(USERS.alice);
    const res = await get('/.pomerium/jwt', { cookie: `_pomerium=${cookie}` });
    assert.equal(res.status, 200);
    assert.match(res.headers['content-type'], /application\/jwt/);
    const upstream = echoOf(await env.p.request(`${env.route}/x`, { headers: { accept: JSON_ACCEPT, cookie: `_pomerium=${cookie}` } }));
    // Each worker signs its own copy (iat differs between workers): the same identity, for this host.
    const mine = decodeJwt(res.text), theirs = decodeJwt(upstream.headers['x-pomerium-jwt-assertion']);
    for (const k of ['sub', 'email', 'sid', 'iss', 'aud']) assert.equal(mine[k], theirs[k], k);
    assert.equal(mine.aud, '127.0.0.1');
    assert.equal((await get('/.pomerium/jwt')).status, 401);
  });

  it('/.well-known/pomerium/hpke-public-key is a stable 32-byte X25519 key, open to any origin', async () => {
    const a = await env.p.request(`${env.route}/.well-known/pomerium/hpke-public-key`);
    assert.equal(a.status, 200);
    assert.equal(a.headers['content-type'], 'application/octet-stream');
    assert.equal(a.headers['access-control-allow-origin'], '*');
    const bytes = a.body;
    assert.equal(bytes.length, 32);
    const b = await env.p.request(`${env.auth}/.well-known/pomerium/hpke-public-key`);
    assert.equal(b.body.toString('hex'), bytes.toString('hex'), 'the same key on every host');
  });

  it('with the flags off (pomerium_jwt_endpoint by default, routes_portal: false), those pages do not exist', async () => {
    const p = await startPostern({
      config: { address: '127.0.0.1:0', insecure_server: true, runtime_flags: { routes_portal: false },
        routes: [{ from: 'http://app.example.test', to: up.origin, allow_public_unauthenticated_access: true }] },
    });
    try {
      for (const path of ['/.pomerium/jwt', '/.pomerium/routes', '/.pomerium/api/v1/routes'])
        assert.equal((await p.request(`http://app.example.test${path}`)).status, 404, path);
    } finally {
      await p.stop();
    }
  });
});

describe('http_redirect_addr', () => {
  it('answers plain http with 301 to the same host and target on the https listener; other hosts 404; garbage 400', async () => {
    const redirectPort = await unusedPort();
    const p = await startPostern({
      config: {
        address: '127.0.0.1:0', http_redirect_addr: `127.0.0.1:${redirectPort}`,  // TLS: a self-signed certificate
        routes: [{ from: 'https://app.example.test', to: up.origin, allow_public_unauthenticated_access: true }],
      },
    });
    try {
      const hop = await request({ port: redirectPort, path: '/x/y?z=1', headers: { host: 'app.example.test' } });
      assert.equal(hop.status, 301);
      assert.equal(hop.headers.location, `https://app.example.test:${p.port}/x/y?z=1`);
      const other = await request({ port: redirectPort, path: '/', headers: { host: 'evil.example.test' } });
      assert.equal(other.status, 404);
      assert.equal(other.headers.location, undefined, 'no redirect to a host Postern does not serve');
      const garbage = await rawRequest({ port: redirectPort, data: 'NOT HTTP\r\n\r\n' });
      assert.equal(garbage.response?.status, 400, garbage.raw);
    } finally {
      await p.stop();
    }
    const r = await runPostern({
      config: { address: '127.0.0.1:0', insecure_server: true, http_redirect_addr: `127.0.0.1:${redirectPort}` },
      args: ['validate'],
    });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /http_redirect_addr: redirects to https, but insecure_server is on/);
  });
});

describe('a plain-http identity provider', () => {
  it('on a host that is not loopback starts, with one warning that names the risk', async () => {
    const port = await unusedPort();
    const r = await runPostern({
      config: {
        address: `127.0.0.1:${port}`, insecure_server: true,
        authenticate_service_url: 'https://auth.example.test', idp_provider: 'okta',
        idp_provider_url: 'http://idp.example.test', idp_client_id: 'c', idp_client_secret: 's',
        shared_secret: Buffer.alloc(32, 1).toString('base64'), cookie_secret: Buffer.alloc(32, 2).toString('base64'),
        routes: [{ from: 'http://app.example.test', to: up.origin, allow_any_authenticated_user: true }],
      },
      args: ['validate'],
    });
    assert.equal(r.code, 0, r.stderr);
    const warnings = r.messages.filter((m) => m.includes('idp_provider_url') && m.includes('unencrypted'));
    assert.equal(warnings.length, 1, r.stderr);
  });
});
