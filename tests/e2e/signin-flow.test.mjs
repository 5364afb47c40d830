// Sign-in with Okta/OIDC, the happy path: the redirect to sign-in (browsers) or 401 (API clients), the signed
// /.pomerium/sign_in URL, the IdP authorize request (PKCE S256, state, nonce), the callback chain and its cookies,
// the identity upstreams receive (X-Pomerium-Jwt-Assertion verified with jose, claim headers), /.well-known/pomerium,
// /.pomerium/ and /.pomerium/user. The main flow runs against the org authorization server, the custom one
// (`/oauth2/default`), with `idp_provider: oidc`, and over https (Secure cookies).

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createRemoteJWKSet, createLocalJWKSet, jwtVerify, calculateJwkThumbprint, importJWK, decodeProtectedHeader } from 'jose';
import { startUpstream, request, makePki } from './lib/index.mjs';
import {
  startSim, startSignInEnv, Browser, signIn, describeHops, simUser, echoOf, echoHeader, parseCookieLine,
  setsCookie, setsFlowCookie, flowCookies, idpDiscovery, BROWSER_ACCEPT, JSON_ACCEPT, USERS,
  stopAll,
} from './lib/signin.mjs';

const FULL_SCOPES = ['openid', 'profile', 'email', 'offline_access', 'groups'];

function routeFor(up, extra = {}) {
  return { from: 'http://127.0.0.1', to: up.origin, allow_any_authenticated_user: true, pass_identity_headers: true, ...extra };
}

/** The signed sign-in redirect for an unauthenticated browser request to `url`. */
async function expectSignInRedirect(env, url, headers = {}) {
  const res = await env.p.request(url, { headers: { accept: BROWSER_ACCEPT, ...headers } });
  assert.equal(res.status, 302, `browser request to ${url}: ${res.status} ${res.text.slice(0, 300)}`);
  const loc = new URL(res.headers.location);
  assert.equal(loc.origin, env.auth, `sign-in redirect goes to the authenticate service: ${loc}`);
  assert.equal(loc.pathname, '/.pomerium/sign_in');
  assert.equal(loc.searchParams.get('pomerium_redirect_uri'), url, 'pomerium_redirect_uri is the original URL');
  const issued = Number(loc.searchParams.get('pomerium_issued'));
  const expiry = Number(loc.searchParams.get('pomerium_expiry'));
  const now = Date.now() / 1000;
  assert.ok(Number.isInteger(issued) && Math.abs(issued - now) < 60, `pomerium_issued ${loc.searchParams.get('pomerium_issued')} is about now`);
  assert.ok(Number.isInteger(expiry) && expiry > issued, `pomerium_expiry ${loc.searchParams.get('pomerium_expiry')} after issued`);
  assert.ok((loc.searchParams.get('pomerium_signature') || '').length >= 16, 'pomerium_signature present');
  assert.ok(!setsCookie(res, '_pomerium'), 'no session cookie on the redirect');
  return { res, loc };
}

function assertJson401(res, what) {
  assert.equal(res.status, 401, `${what}: ${res.status} ${res.headers.location ?? ''} ${res.text.slice(0, 300)}`);
  assert.equal(res.headers.location, undefined, `${what}: no Location on a 401`);
  assert.match(res.headers['content-type'] || '', /application\/json/, `${what}: JSON body`);
  const body = JSON.parse(res.text);
  assert.equal(body.status, 401);
  assert.equal(body.error, 'Unauthorized');
  assert.equal(typeof body.message, 'string');
  assert.ok(body.message.length > 0, 'message not empty');
  assert.equal(typeof body.request_id, 'string');
  assert.ok(body.request_id.length > 0);
  if (res.headers['x-request-id']) assert.equal(body.request_id, res.headers['x-request-id']);
}

/** Full browser sign-in of alice to `${env.route}${path}`; asserts the whole chain. Returns { r, browser, cookie }. */
async function fullSignIn(env, { path = '/hello/world?x=1&y=two', user = USERS.alice } = {}) {
  const browser = new Browser({ ca: env.ca });
  const start = `${env.route}${path}`;
  const r = await signIn(browser, start, user.login, user.password);
  const chain = describeHops(r.hops);
  assert.ok(r.formShown, `the IdP sign-in form was shown:\n${chain}`);
  assert.equal(r.res.status, 200, `ends with 200 from the upstream:\n${chain}\n${r.res.text.slice(0, 500)}`);
  assert.equal(r.url, start, `ends on the original URL:\n${chain}`);

  // IdP → authenticate /oauth2/callback → route /.pomerium/callback/
  const cbIdx = r.hops.findIndex((h) => new URL(h.url).pathname === '/oauth2/callback');
  assert.ok(cbIdx >= 0, `the IdP redirected to /oauth2/callback:\n${chain}`);
  const cb = r.hops[cbIdx];
  assert.equal(new URL(cb.url).origin, env.auth, 'callback on the authenticate host');
  assert.equal(cb.status, 302, `callback answers 302:\n${chain}`);
  const next = new URL(cb.location);
  assert.equal(next.origin, env.route, `callback redirects to the route host: ${next}`);
  assert.equal(next.pathname, '/.pomerium/callback/');
  assert.equal(next.searchParams.get('pomerium_redirect_uri'), start);
  assert.ok((next.searchParams.get('pomerium_session_encrypted') || '').length > 0, 'pomerium_session_encrypted present');
  const authCookie = cb.setCookie.map((l) => parseCookieLine(l, cb.url)).find((c) => c.name === '_pomerium_authenticate');
  assert.ok(authCookie && authCookie.value, `callback sets _pomerium_authenticate: ${JSON.stringify(cb.setCookie)}`);
  assert.ok(browser.cookie('localhost', '_pomerium_authenticate'), '_pomerium_authenticate kept for the authenticate host');

  const rcb = r.hops[cbIdx + 1];
  assert.equal(rcb.url, next.href);
  assert.equal(rcb.status, 302, `route callback answers 302:\n${chain}`);
  assert.equal(rcb.location, start, 'route callback redirects to the original URL');
  const lines = rcb.setCookie.map((l) => parseCookieLine(l, rcb.url)).filter((c) => c.name === '_pomerium');
  assert.equal(lines.length, 1, `route callback sets _pomerium once: ${JSON.stringify(rcb.setCookie)}`);
  const c = lines[0];
  assert.ok(c.value.length > 0);
  assert.ok(c.httpOnly, `HttpOnly: ${c.raw}`);
  assert.equal(c.attrs.path, '/', `Path=/: ${c.raw}`);
  assert.match(c.sameSite ?? '', /^lax$/i, `SameSite=Lax: ${c.raw}`);
  if (env.route.startsWith('https:')) {
    assert.ok(c.secure, `Secure over https: ${c.raw}`);
    assert.ok(authCookie.secure, `_pomerium_authenticate is Secure over https: ${authCookie.raw}`);
  } else {
    assert.ok(!c.secure, `no Secure over http: ${c.raw}`);
    assert.ok(!authCookie.secure, `_pomerium_authenticate: no Secure over http: ${authCookie.raw}`);
  }
  assert.ok(!c.attrs.domain, `host-only cookie: ${c.raw}`);
  assert.equal(browser.cookie('127.0.0.1', '_pomerium'), c.value);
  return { r, browser, cookie: c.value, start };
}

async function verifyAssertion(env, token) {
  const jwks = env.route.startsWith('https:')
    ? createLocalJWKSet(JSON.parse((await env.p.request(`${env.route}/.well-known/pomerium/jwks.json`)).text))
    : createRemoteJWKSet(new URL(`${env.route}/.well-known/pomerium/jwks.json`));
  const { payload, protectedHeader } = await jwtVerify(token, jwks, {
    issuer: '127.0.0.1',
    audience: '127.0.0.1',
    algorithms: ['ES256'],
  });
  return { payload, protectedHeader };
}

async function signedInEcho(env, cookie, path = '/echo', headers = {}) {
  const res = await env.p.request(`${env.route}${path}`, { headers: { accept: JSON_ACCEPT, cookie: `_pomerium=${cookie}`, ...headers } });
  assert.equal(res.status, 200, `signed-in request: ${res.status} ${res.text.slice(0, 300)}`);
  return echoOf(res);
}

// one simulator and one upstream for the whole file
let sim, up;
before(async () => {
  [sim, up] = await Promise.all([startSim(), startUpstream({ name: 'signin-flow' })]);
});
after(() => stopAll(up?.stop, sim?.stop));

describe('sign-in (org authorization server, groups scope, claim headers)', () => {
  let env, alice;
  let session; // { cookie, browser } of a completed sign-in
  before(async () => {
    env = await startSignInEnv({
      sim,
      up,
      server: 'org',
      scopes: FULL_SCOPES,
      config: { jwt_claims_headers: ['email', 'groups'] }, // a global setting, as in Pomerium
      routes: (u) => [routeFor(u)],
    });
    alice = await simUser(sim, USERS.alice.login);
  });
  after(async () => {
    await env?.stop();
  });

  it('an unauthenticated browser gets 302 to the signed /.pomerium/sign_in URL on the authenticate host', async () => {
    await expectSignInRedirect(env, `${env.route}/some/page?a=1&b=x%20y`);
  });

  it('an API client (Accept: application/json) gets 401 JSON, never a redirect', async () => {
    assertJson401(await env.p.request(`${env.route}/api/thing`, { headers: { accept: 'application/json' } }), 'Accept: application/json');
  });

  // Pomerium's rule: text/html is acceptable under */* (and with no Accept at all), so curl and other plain clients
  // are sent to sign in; only clients that prefer JSON (or another non-HTML type), or XHRs, get a 401.
  it('a client with Accept: */* (curl) is sent to sign in, as Pomerium does', async () => {
    await expectSignInRedirect(env, `${env.route}/api/thing`, { accept: '*/*' });
  });

  it('a client that accepts only non-HTML types (Accept: application/xml) gets 401 JSON', async () => {
    assertJson401(await env.p.request(`${env.route}/api/thing`, { headers: { accept: 'application/xml' } }), 'Accept: application/xml');
  });

  it('an XMLHttpRequest (X-Requested-With, even with a browser Accept) gets 401 JSON, never a redirect', async () => {
    assertJson401(
      await env.p.request(`${env.route}/api/thing`, { headers: { accept: BROWSER_ACCEPT, 'x-requested-with': 'XMLHttpRequest' } }),
      'X-Requested-With: XMLHttpRequest',
    );
  });

  it('at most five sign-ins in progress per browser: a sixth drops the oldest flow cookie', async () => {
    const b = new Browser();
    for (let i = 0; i < 7; i++) {
      const toSignIn = await b.fetch(`${env.route}/flow-${i}`);
      assert.equal(toSignIn.status, 302);
      const toIdp = await b.fetch(new URL(toSignIn.location, env.route).href);
      assert.equal(toIdp.status, 302, `sign_in ${i}: ${toIdp.status}`);
      assert.ok(setsFlowCookie(toIdp), `flow ${i} has its own cookie`);
    }
    assert.equal(flowCookies(b).length, 5, `flow cookies: ${flowCookies(b).map((c) => c.name)}`);
  });

  it('/.pomerium/sign_in redirects to the IdP authorize endpoint with PKCE S256, state and nonce, and sets _pomerium_csrf', async () => {
    const { loc } = await expectSignInRedirect(env, `${env.route}/start`);
    const b = new Browser();
    const res = await b.fetch(loc.href);
    assert.equal(res.status, 302, `sign_in: ${res.status} ${res.text.slice(0, 300)}`);
    const authz = new URL(res.location);
    assert.equal(`${authz.origin}${authz.pathname}`, `${sim.url}/oauth2/v1/authorize`, 'the org server authorize endpoint');
    const q = authz.searchParams;
    assert.equal(q.get('client_id'), env.client.client_id);
    assert.equal(q.get('redirect_uri'), `${env.auth}/oauth2/callback`);
    assert.equal(q.get('response_type'), 'code');
    assert.deepEqual(new Set((q.get('scope') || '').split(' ')), new Set(FULL_SCOPES), `scope: ${q.get('scope')}`);
    assert.ok((q.get('state') || '').length >= 16, 'state');
    assert.ok((q.get('nonce') || '').length >= 16, 'nonce');
    assert.match(q.get('code_challenge') || '', /^[A-Za-z0-9_-]{43}$/, 'code_challenge is a base64url SHA-256');
    assert.equal(q.get('code_challenge_method'), 'S256');
    assert.ok(setsFlowCookie(res), `sets a _pomerium_csrf_<flow> cookie: ${JSON.stringify(res.setCookies)}`);
    assert.equal(flowCookies(b, 'localhost').length, 1, 'the flow cookie is a cookie of the authenticate host');
    assert.equal(flowCookies(b, '127.0.0.1').length, 0, 'not a cookie of the route host');
    // two sign-ins get different state, nonce and PKCE challenge
    const res2 = await new Browser().fetch(loc.href);
    const q2 = new URL(res2.location).searchParams;
    assert.notEqual(q2.get('state'), q.get('state'));
    assert.notEqual(q2.get('nonce'), q.get('nonce'));
    assert.notEqual(q2.get('code_challenge'), q.get('code_challenge'));
  });

  it('the full sign-in sets _pomerium_authenticate and _pomerium and ends on the original URL with identity headers', async () => {
    const { r, cookie, browser } = await fullSignIn(env);
    session = { cookie, browser };
    // the browser asked for HTML: the sample app shows who is signed in
    assert.match(r.res.headers['content-type'] || '', /text\/html/);
    assert.match(r.res.text, /id="user">alice@example\.com</, 'the sample app shows alice');
    const echo = await signedInEcho(env, cookie);
    assert.ok(echoHeader(echo, 'x-pomerium-jwt-assertion'), 'upstream receives X-Pomerium-Jwt-Assertion');
  });

  it('X-Pomerium-Jwt-Assertion is an ES256 JWS verifiable with the route JWKS, with the documented claims', async () => {
    assert.ok(session, 'needs the sign-in test');
    const echo = await signedInEcho(env, session.cookie);
    const token = echoHeader(echo, 'x-pomerium-jwt-assertion');
    assert.match(token, /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/, 'compact JWS');
    const header = decodeProtectedHeader(token);
    assert.equal(header.alg, 'ES256');
    const jwksRes = await request({ port: env.port, path: '/.well-known/pomerium/jwks.json', headers: { host: `127.0.0.1:${env.port}` } });
    assert.equal(jwksRes.status, 200);
    const jwks = JSON.parse(jwksRes.text);
    const jwk = jwks.keys.find((k) => k.kid === header.kid);
    assert.ok(jwk, `kid ${header.kid} is in the JWKS: ${jwksRes.text}`);
    assert.equal(header.kid, await calculateJwkThumbprint(jwk, 'sha256'), 'kid = RFC 7638 thumbprint (base64url SHA-256)');
    assert.ok(!('d' in jwk), 'no private key material in the JWKS');
    await jwtVerify(token, await importJWK(jwk, 'ES256'), { algorithms: ['ES256'] });

    const { payload } = await verifyAssertion(env, token);
    assert.equal(payload.iss, '127.0.0.1');
    assert.equal(payload.aud, '127.0.0.1');
    assert.equal(payload.sub, alice.id, 'sub = the Okta user id');
    assert.match(payload.sub, /^00u/);
    assert.equal(payload.user, alice.id, 'user = the Okta user id');
    assert.equal(payload.email, 'alice@example.com');
    assert.ok(Array.isArray(payload.groups), `groups is an array: ${JSON.stringify(payload.groups)}`);
    assert.ok(payload.groups.includes('Engineering'), `groups has the group name (groups scope asked): ${JSON.stringify(payload.groups)}`);
    assert.ok(!payload.groups.includes('Finance'));
    assert.equal(payload.name, `${alice.profile.firstName} ${alice.profile.lastName}`);
    assert.equal(typeof payload.sid, 'string');
    assert.ok(payload.sid.length > 0);
    const now = Date.now() / 1000;
    assert.ok(Number.isInteger(payload.iat) && Math.abs(payload.iat - now) < 60, `iat ${payload.iat}`);
    assert.ok(Number.isInteger(payload.exp) && payload.exp > payload.iat && payload.exp - payload.iat <= 300, `exp ${payload.exp} iat ${payload.iat}`);

    // jwt_claims_headers: [email, groups]
    assert.equal(echoHeader(echo, 'x-pomerium-claim-email'), 'alice@example.com');
    assert.equal(echoHeader(echo, 'x-pomerium-claim-groups'), payload.groups.join(','));
  });

  it('the assertion is fresh for each request and the session id is stable', async () => {
    assert.ok(session, 'needs the sign-in test');
    const a = (await signedInEcho(env, session.cookie)).headers['x-pomerium-jwt-assertion'];
    const b = (await signedInEcho(env, session.cookie)).headers['x-pomerium-jwt-assertion'];
    const pa = (await verifyAssertion(env, a)).payload;
    const pb = (await verifyAssertion(env, b)).payload;
    assert.equal(pa.sid, pb.sid);
    assert.equal(pa.sub, pb.sub);
  });

  it('/.well-known/pomerium answers JSON on the route host and the authenticate host', async () => {
    for (const host of [`127.0.0.1:${env.port}`, `localhost:${env.port}`]) {
      const res = await request({ port: env.port, path: '/.well-known/pomerium', headers: { host, accept: '*/*' } });
      assert.equal(res.status, 200, `${host}: ${res.status} ${res.text.slice(0, 200)}`);
      assert.match(res.headers['content-type'] || '', /application\/json/);
      const doc = JSON.parse(res.text);
      for (const k of ['issuer', 'jwks_uri', 'authentication_callback_endpoint']) {
        assert.equal(typeof doc[k], 'string', `${host}: ${k} in ${res.text}`);
        assert.ok(doc[k].length > 0);
      }
      assert.match(doc.jwks_uri, /\/\.well-known\/pomerium\/jwks\.json$/);
      assert.equal(doc.authentication_callback_endpoint, `${env.auth}/oauth2/callback`);
    }
  });

  it('client-sent identity headers and the _pomerium cookie never reach the upstream', async () => {
    assert.ok(session, 'needs the sign-in test');
    const forged = 'eyJhbGciOiJub25lIn0.eyJzdWIiOiJldmlsIiwiZW1haWwiOiJldmlsQGV2aWwuZXhhbXBsZSJ9.';
    const echo = await signedInEcho(env, session.cookie, '/echo', {
      cookie: `other=kept; _pomerium=${session.cookie}; another=also`,
      'x-pomerium-jwt-assertion': forged,
      'x-pomerium-claim-email': 'evil@evil.example',
      'x-pomerium-claim-groups': 'admins',
      'x-pomerium-claim-role': 'root',
    });
    const got = echo.headers['x-pomerium-jwt-assertion'];
    assert.ok(!Array.isArray(got), `exactly one assertion reaches the upstream: ${JSON.stringify(got)}`);
    assert.notEqual(got, forged);
    await verifyAssertion(env, got);
    assert.equal(echo.headers['x-pomerium-claim-email'], 'alice@example.com');
    assert.ok(!String(echo.headers['x-pomerium-claim-groups']).includes('admins'));
    assert.equal(echo.headers['x-pomerium-claim-role'], undefined, 'client-sent X-Pomerium-Claim-Role removed');
    const cookie = [].concat(echo.headers.cookie ?? []).join('; ');
    assert.ok(!cookie.includes('_pomerium'), `no _pomerium cookie upstream: ${cookie}`);
    assert.ok(!cookie.includes(session.cookie), 'the session value is not forwarded');
    assert.match(cookie, /other=kept/, `other cookies pass: ${cookie}`);
    assert.match(cookie, /another=also/);
  });

  it('/.pomerium/ shows the signed-in email and a sign-out control', async () => {
    assert.ok(session, 'needs the sign-in test');
    const res = await session.browser.fetch(`${env.route}/.pomerium/`);
    assert.equal(res.status, 200, res.text.slice(0, 300));
    assert.match(res.headers['content-type'] || '', /text\/html/);
    assert.ok(res.text.includes('alice@example.com'), 'shows the email');
    assert.match(res.text, /\/\.pomerium\/sign_out/, 'has a sign-out link or form');
  });

  it('/.pomerium/user returns the user as JSON; without a session it is 401 JSON', async () => {
    assert.ok(session, 'needs the sign-in test');
    const res = await env.p.request(`${env.route}/.pomerium/user`, {
      headers: { accept: JSON_ACCEPT, cookie: `_pomerium=${session.cookie}` },
    });
    assert.equal(res.status, 200, res.text.slice(0, 300));
    assert.match(res.headers['content-type'] || '', /application\/json/);
    const u = JSON.parse(res.text);
    assert.ok(u.sub === alice.id || u.user === alice.id, `sub/user is alice's id: ${res.text}`);
    if ('sub' in u) assert.equal(u.sub, alice.id);
    if ('user' in u) assert.equal(u.user, alice.id);
    assert.equal(u.email, 'alice@example.com');
    assert.ok(Array.isArray(u.groups), `groups array: ${res.text}`);
    assert.ok(u.groups.includes('Engineering'));

    const anon = await env.p.request(`${env.route}/.pomerium/user`, { headers: { accept: JSON_ACCEPT } });
    assertJson401(anon, '/.pomerium/user without a session');
  });
});

for (const variant of [
  { name: 'custom authorization server (/oauth2/default), default scopes', server: 'default', provider: 'okta' },
  { name: 'idp_provider: oidc against the custom authorization server', server: 'default', provider: 'oidc' },
  { name: 'idp_provider: oidc against the org authorization server, global pass_identity_headers', server: 'org', provider: 'oidc', globalHeaders: true },
]) {
  describe(`sign-in (${variant.name})`, () => {
    let env, alice;
    before(async () => {
      env = await startSignInEnv({
        sim,
        up,
        server: variant.server,
        provider: variant.provider,
        config: variant.globalHeaders ? { pass_identity_headers: true } : {},
        routes: (u) => [variant.globalHeaders ? routeFor(u, { pass_identity_headers: undefined }) : routeFor(u)],
      });
      alice = await simUser(sim, USERS.alice.login);
    });
    after(async () => {
      await env?.stop();
    });

    it('authorize request uses this server and the default scopes', async () => {
      const { loc } = await expectSignInRedirect(env, `${env.route}/x`);
      const res = await new Browser().fetch(loc.href);
      assert.equal(res.status, 302, res.text.slice(0, 300));
      const authz = new URL(res.location);
      assert.equal(`${authz.origin}${authz.pathname}`, (await idpDiscovery(env)).authorization_endpoint);
      assert.match(authz.pathname, variant.server === 'org' ? /^\/oauth2\/v1\/authorize$/ : /^\/oauth2\/default\/v1\/authorize$/);
      assert.deepEqual(
        new Set((authz.searchParams.get('scope') || '').split(' ')),
        new Set(['openid', 'profile', 'email', 'offline_access']),
        `default idp_scopes: ${authz.searchParams.get('scope')}`,
      );
      assert.equal(authz.searchParams.get('code_challenge_method'), 'S256');
    });

    it('full sign-in reaches the upstream with a verifiable assertion for alice', async () => {
      const { cookie } = await fullSignIn(env);
      const echo = await signedInEcho(env, cookie);
      const { payload } = await verifyAssertion(env, echoHeader(echo, 'x-pomerium-jwt-assertion'));
      assert.equal(payload.sub, alice.id);
      assert.equal(payload.user, alice.id);
      assert.equal(payload.email, 'alice@example.com');
      assert.ok(Array.isArray(payload.groups), `groups is an array, never null: ${JSON.stringify(payload.groups)}`);
      assert.ok(payload.exp - payload.iat <= 300);
    });
  });
}

describe('sign-in over https (Secure cookies)', () => {
  let env;
  before(async () => {
    const pki = makePki();
    env = await startSignInEnv({
      sim,
      up,
      https: { certFile: pki.server.certFile, keyFile: pki.server.keyFile, caPem: pki.caPem },
      routes: (u) => [routeFor(u, { from: 'https://127.0.0.1' })],
    });
  });
  after(() => env?.stop());

  it('the redirect to sign-in names the https URL; the full sign-in sets Secure cookies and reaches the upstream', async () => {
    await expectSignInRedirect(env, `${env.route}/secure/page?x=1`);
    const { cookie } = await fullSignIn(env, { path: '/secure/page?x=1' });
    const echo = await signedInEcho(env, cookie);
    const { payload } = await verifyAssertion(env, echoHeader(echo, 'x-pomerium-jwt-assertion'));
    assert.equal(payload.email, 'alice@example.com');
  });
});
