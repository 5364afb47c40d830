// Sessions after sign-in: route policy (allowed_users, allowed_domains, public routes), broken or foreign session
// cookies (never a 500), sign-out through the IdP end-session endpoint (the old cookie stops working), and open
// redirects through sign_in, the route callback and sign_out.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startUpstream } from './lib/index.mjs';
import {
  startSim, startSignInEnv, Browser, signIn, describeHops, simUser, echoOf, echoHeader, setsCookie, clearsCookie,
  flipChar, decodeJwt, idpDiscovery, stopAll, BROWSER_ACCEPT, JSON_ACCEPT, USERS,
} from './lib/signin.mjs';

const MALLORY = { login: 'mallory@elsewhere.test', password: 'mallory-password' };

function policyRoutes(up) {
  const base = { from: 'http://127.0.0.1', to: up.origin, pass_identity_headers: true };
  return [
    { ...base, prefix: '/alice-only', allowed_users: ['alice@example.com'] },
    { ...base, prefix: '/example-domain', allowed_domains: ['example.com'] },
    { ...base, prefix: '/public', allow_public_unauthenticated_access: true },
    { ...base, allow_any_authenticated_user: true },
    { from: 'http://second.example.test', to: up.origin, allow_any_authenticated_user: true, pass_identity_headers: true },
  ];
}

let sim, up, env;
before(async () => {
  [sim, up] = await Promise.all([startSim(), startUpstream({ name: 'signin-sessions' })]);
  await sim.ctl('POST', 'users', { login: MALLORY.login, email: MALLORY.login, firstName: 'Mallory', lastName: 'M', password: MALLORY.password });
  env = await startSignInEnv({ sim, up, routes: policyRoutes });
});
after(() => stopAll(env?.stop, up?.stop, sim?.stop));

/** Browser sign-in of `user` starting at `path`; returns { browser, cookie, r }. */
async function login(user, path = '/') {
  const browser = new Browser();
  const r = await signIn(browser, `${env.route}${path}`, user.login, user.password);
  const cookie = browser.cookie('127.0.0.1', '_pomerium');
  assert.ok(cookie, `${user.login} got a session cookie:\n${describeHops(r.hops)}\n${r.res.status} ${r.res.text.slice(0, 300)}`);
  return { browser, cookie, r };
}

const withCookie = (cookie, accept = JSON_ACCEPT, extra = {}) => ({ headers: { accept, cookie: `_pomerium=${cookie}`, ...extra } });

/** "Not signed in": a browser gets 302 to sign-in, an API client 401 — never a 500. */
async function assertNotSignedIn(cookieValue, what, path = '/anything') {
  const b = await env.p.request(`${env.route}${path}`, withCookie(cookieValue, BROWSER_ACCEPT));
  assert.equal(b.status, 302, `${what} (browser): ${b.status} ${b.text.slice(0, 300)}`);
  const loc = new URL(b.headers.location);
  assert.equal(loc.origin, env.auth);
  assert.equal(loc.pathname, '/.pomerium/sign_in');
  const a = await env.p.request(`${env.route}${path}`, withCookie(cookieValue, JSON_ACCEPT));
  assert.equal(a.status, 401, `${what} (API): ${a.status} ${a.text.slice(0, 300)}`);
  assert.match(a.headers['content-type'] || '', /application\/json/);
}

describe('single sign-on across route hosts', () => {
  it('a second route host gets the session from the authenticate host without another trip to the IdP', async () => {
    const { browser } = await login(USERS.carol, '/first');
    const port = new URL(env.route).port;
    const hops = [];
    let url = `http://second.example.test:${port}/second?x=1`;
    let res;
    for (let i = 0; i < 6; i++) {
      res = await browser.fetch(url);
      hops.push(`${res.status} ${url}`);
      if (res.status !== 302) break;
      url = new URL(res.headers.location, url).toString();
      assert.ok(!url.includes('/oauth2/v1/authorize') && !url.includes('/oauth2/default/v1/authorize'),
        `no IdP round trip:\n${hops.join('\n')}\n-> ${url}`);
    }
    assert.equal(res.status, 200, hops.join('\n'));
    assert.ok(browser.cookie('second.example.test', '_pomerium'), 'the second host has its own cookie');
    const echo = echoOf(await browser.fetch(url, { headers: { accept: JSON_ACCEPT } }));
    const claims = decodeJwt(echoHeader(echo, 'x-pomerium-jwt-assertion'));
    assert.equal(claims.aud, 'second.example.test', 'the assertion is for the second host');
    assert.equal(claims.email, 'carol@example.com');
  });
});

describe('policy', () => {
  let alice, bob, mallory;
  before(async () => {
    alice = await login(USERS.alice, '/alice-only/start');
    bob = await login(USERS.bob, '/');
    mallory = await login(MALLORY, '/');
  });

  it('allowed_users: alice gets through', async () => {
    assert.equal(alice.r.res.status, 200, 'the sign-in itself ended on /alice-only with 200');
    const res = await env.p.request(`${env.route}/alice-only/data`, withCookie(alice.cookie));
    assert.equal(res.status, 200);
    assert.equal(echoOf(res).path, '/alice-only/data');
  });

  it('allowed_users: bob gets a 403 page with the request id (JSON for API clients)', async () => {
    const res = await env.p.request(`${env.route}/alice-only/data`, withCookie(bob.cookie, BROWSER_ACCEPT));
    assert.equal(res.status, 403, res.text.slice(0, 300));
    assert.match(res.headers['content-type'] || '', /text\/html/);
    const id = res.headers['x-request-id'];
    assert.ok(id, 'X-Request-Id');
    assert.ok(res.text.includes(id), 'the 403 page shows the request id');
    assert.ok(!res.text.includes('"path"'), 'not the upstream echo');
    const api = await env.p.request(`${env.route}/alice-only/data`, withCookie(bob.cookie));
    assert.equal(api.status, 403);
    assert.match(api.headers['content-type'] || '', /application\/json/);
    const body = JSON.parse(api.text);
    assert.equal(body.status, 403);
    assert.equal(body.request_id, api.headers['x-request-id']);
  });

  it('allowed_domains: alice and bob (example.com) pass, mallory (elsewhere.test) gets 403', async () => {
    for (const [who, s] of [['alice', alice], ['bob', bob]]) {
      const res = await env.p.request(`${env.route}/example-domain/x`, withCookie(s.cookie));
      assert.equal(res.status, 200, `${who}: ${res.status}`);
    }
    const res = await env.p.request(`${env.route}/example-domain/x`, withCookie(mallory.cookie));
    assert.equal(res.status, 403, `mallory: ${res.status} ${res.text.slice(0, 200)}`);
  });

  it('allow_any_authenticated_user: mallory gets through', async () => {
    const res = await env.p.request(`${env.route}/whatever`, withCookie(mallory.cookie));
    assert.equal(res.status, 200);
    const claims = decodeJwt(echoHeader(echoOf(res), 'x-pomerium-jwt-assertion'));
    assert.equal(claims.email, MALLORY.login);
  });

  it('a public route needs no sign-in, and client-sent identity headers are removed there too', async () => {
    const res = await env.p.request(`${env.route}/public/page`, {
      headers: {
        accept: JSON_ACCEPT,
        'x-pomerium-jwt-assertion': 'forged.jwt.value',
        'x-pomerium-claim-email': 'evil@evil.example',
      },
    });
    assert.equal(res.status, 200, res.text.slice(0, 300));
    const echo = echoOf(res);
    assert.equal(echo.path, '/public/page');
    assert.notEqual(echo.headers['x-pomerium-jwt-assertion'], 'forged.jwt.value');
    assert.equal(echo.headers['x-pomerium-claim-email'], undefined);
    const html = await env.p.request(`${env.route}/public/page`, { headers: { accept: BROWSER_ACCEPT } });
    assert.equal(html.status, 200, 'browsers are not sent to sign-in either');
  });

  it('a public route does not forward Authorization: Pomerium … nor the _pomerium cookie', async () => {
    const res = await env.p.request(`${env.route}/public/page`, {
      headers: { accept: JSON_ACCEPT, authorization: 'Pomerium not-a-real-token', cookie: '_pomerium=not-a-session; keep=1' },
    });
    assert.equal(res.status, 200, res.text.slice(0, 300));
    const echo = echoOf(res);
    assert.equal(echo.headers.authorization, undefined, 'Authorization: Pomerium … is not forwarded');
    const cookie = [].concat(echo.headers.cookie ?? []).join('; ');
    assert.ok(!cookie.includes('_pomerium'), `no _pomerium cookie upstream: ${cookie}`);
    assert.match(cookie, /keep=1/);
  });
});

describe('broken and foreign session cookies', () => {
  let alice, other;
  before(async () => {
    alice = await login(USERS.alice);
    // a second Postern with different secrets, same IdP: its cookie must mean nothing here
    other = await startSignInEnv({ sim, up, routes: policyRoutes });
  });
  after(() => other?.stop());

  it('the genuine cookie works (control)', async () => {
    const res = await env.p.request(`${env.route}/ok`, withCookie(alice.cookie));
    assert.equal(res.status, 200);
  });

  it('a cookie with one character changed is "not signed in"', async () => {
    const tampered = flipChar(alice.cookie);
    assert.notEqual(tampered, alice.cookie);
    await assertNotSignedIn(tampered, 'flipped character');
  });

  it('truncated and extended cookies are "not signed in"', async () => {
    await assertNotSignedIn(alice.cookie.slice(0, -3), 'truncated');
    await assertNotSignedIn(`${alice.cookie}AAAA`, 'extended');
  });

  it('garbage cookies are "not signed in", never a 500', async () => {
    for (const g of ['garbage', '', 'a.b.c', '%%%', 'eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.', 'x'.repeat(3000), '"quoted"']) {
      await assertNotSignedIn(g, `garbage ${JSON.stringify(g.slice(0, 20))}`);
    }
  });

  it("another Postern's cookie (different secrets) is \"not signed in\"", async () => {
    const b = new Browser();
    await signIn(b, `${other.route}/`, USERS.alice.login, USERS.alice.password);
    const foreign = b.cookie('127.0.0.1', '_pomerium');
    assert.ok(foreign, 'signed in at the other Postern');
    const there = await other.p.request(`${other.route}/x`, withCookie(foreign));
    assert.equal(there.status, 200, 'valid where it was issued');
    await assertNotSignedIn(foreign, 'foreign cookie');
  });

  it('Postern is still healthy', async () => {
    const res = await env.p.request(`${env.route}/ping`);
    assert.equal(res.status, 200);
  });
});

describe('sign-out', () => {
  it('clears _pomerium, ends the session at Postern and at the IdP, and the old cookie stops working', async () => {
    const { browser, cookie } = await login(USERS.alice);
    const alice = await simUser(sim, USERS.alice.login);
    const authCookie = browser.cookie('localhost', '_pomerium_authenticate');
    assert.ok(authCookie);

    const hopStart = browser.hops.length;
    const out = await browser.fetch(`${env.route}/.pomerium/sign_out`);
    assert.equal(out.status, 302, `route sign_out: ${out.status} ${out.text.slice(0, 300)}`);
    assert.ok(clearsCookie(out, '_pomerium'), `clears _pomerium (Max-Age=0 or a past Expires): ${JSON.stringify(out.setCookies)}`);
    assert.equal(browser.cookie('127.0.0.1', '_pomerium'), undefined);
    const authOut = new URL(out.location);
    assert.equal(authOut.origin, env.auth, `redirects to the authenticate host: ${authOut}`);
    assert.equal(authOut.pathname, '/.pomerium/sign_out');
    assert.ok(authOut.searchParams.get('pomerium_signature'), 'a signed URL');

    const idp = await browser.fetch(authOut.href);
    assert.equal(idp.status, 302, `authenticate sign_out: ${idp.status} ${idp.text.slice(0, 300)}`);
    const end = new URL(idp.location);
    const discovery = await idpDiscovery(env);
    assert.match(discovery.end_session_endpoint, /\/v1\/logout$/);
    assert.equal(`${end.origin}${end.pathname}`, discovery.end_session_endpoint, `IdP end-session endpoint: ${end}`);
    assert.equal(end.searchParams.get('post_logout_redirect_uri'), `${env.auth}/.pomerium/signed_out`);
    assert.ok(end.searchParams.get('state'), 'state');
    const hint = end.searchParams.get('id_token_hint');
    assert.ok(hint, 'id_token_hint');
    const hc = decodeJwt(hint);
    assert.equal(hc.sub, alice.id, 'the hint is alice’s ID token');
    assert.equal(hc.aud, env.client.client_id);
    assert.equal(browser.cookie('localhost', '_pomerium_authenticate'), undefined, 'the authenticate cookie is cleared');

    const fin = await browser.follow(idp.location);
    assert.equal(fin.url.split('?')[0], `${env.auth}/.pomerium/signed_out`, describeHops(browser.hops.slice(hopStart)));
    assert.equal(fin.res.status, 200);
    assert.equal(new URL(fin.url).searchParams.get('state'), end.searchParams.get('state'), 'the IdP echoed state');

    // the old cookie value is dead (the session is gone, not just the cookie)
    await assertNotSignedIn(cookie, 'old cookie after sign-out');
    // and the old authenticate cookie does not skip the IdP
    const b2 = new Browser();
    b2.setCookie('localhost', '_pomerium_authenticate', authCookie);
    const start = await b2.follow(`${env.route}/again`, { stop: (u) => u.origin === sim.url });
    assert.ok(start.stoppedAt, `sign-in after sign-out goes to the IdP:\n${describeHops(b2.hops)}`);
  });

  it('the other sessions of the same user keep working', async () => {
    const a = await login(USERS.alice);
    const b = await login(USERS.alice);
    await a.browser.follow(`${env.route}/.pomerium/sign_out`);
    await assertNotSignedIn(a.cookie, 'signed-out session');
    const res = await env.p.request(`${env.route}/still`, withCookie(b.cookie));
    assert.equal(res.status, 200, 'the other browser stays signed in');
  });
});

describe('open redirects', () => {
  const EVIL = 'https://evil.example/steal';
  const noEvil = (res, what) => {
    const loc = res.headers.location ?? '';
    assert.ok(!/evil\.example/i.test(loc), `${what}: Location ${loc}`);
  };

  it('/.pomerium/sign_in with an unsigned evil pomerium_redirect_uri is 400', async () => {
    const b = new Browser();
    const res = await b.fetch(`${env.auth}/.pomerium/sign_in?pomerium_redirect_uri=${encodeURIComponent(EVIL)}`);
    assert.equal(res.status, 400, `${res.status} ${res.headers.location ?? ''}`);
    noEvil(res, 'unsigned sign_in');
  });

  it('/.pomerium/sign_in with evil swapped into a correctly formed signed URL is 400, also when signed in', async () => {
    const r = await env.p.request(`${env.route}/page`, { headers: { accept: BROWSER_ACCEPT } });
    assert.equal(r.status, 302);
    const u = new URL(r.headers.location);
    u.searchParams.set('pomerium_redirect_uri', EVIL);
    const res = await new Browser().fetch(u.href);
    assert.equal(res.status, 400, `${res.status} ${res.headers.location ?? ''}`);
    noEvil(res, 'swapped sign_in');
    // a browser that already has an authenticate session
    const { browser } = await login(USERS.alice);
    const res2 = await browser.fetch(u.href);
    assert.equal(res2.status, 400, `signed in: ${res2.status} ${res2.headers.location ?? ''}`);
    noEvil(res2, 'swapped sign_in, signed in');
  });

  it('/.pomerium/callback/ with an evil pomerium_redirect_uri is 400 and sets no cookie', async () => {
    // capture a genuine route-callback URL, then swap its redirect target
    const b = new Browser();
    const r = await signIn(b, `${env.route}/cb-test`, USERS.alice.login, USERS.alice.password, {
      stop: (u) => u.pathname === '/.pomerium/callback/' || u.pathname === '/.pomerium/callback',
    });
    assert.ok(r.stoppedAt, describeHops(r.hops));
    const u = new URL(r.stoppedAt);
    u.searchParams.set('pomerium_redirect_uri', EVIL);
    const res = await b.fetch(u.href);
    assert.equal(res.status, 400, `${res.status} ${res.headers.location ?? ''}`);
    noEvil(res, 'swapped route callback');
    assert.ok(!setsCookie(res, '_pomerium'), 'no session cookie');
    // and a bare one
    const bare = await new Browser().fetch(`${env.route}/.pomerium/callback/?pomerium_redirect_uri=${encodeURIComponent(EVIL)}&pomerium_session_encrypted=AAAA`);
    assert.equal(bare.status, 400);
    noEvil(bare, 'bare route callback');
    assert.ok(!setsCookie(bare, '_pomerium'));
  });

  it('/.pomerium/sign_out?pomerium_redirect_uri=evil on the route host never redirects to evil', async () => {
    const { browser } = await login(USERS.alice);
    const r = await browser.follow(`${env.route}/.pomerium/sign_out?pomerium_redirect_uri=${encodeURIComponent(EVIL)}`);
    for (const h of r.hops) assert.ok(!/evil\.example/i.test(h.location ?? ''), `no hop to evil:\n${describeHops(r.hops)}`);
    assert.ok([200, 400].includes(r.res.status), `ends on the signed-out page or a 400: ${r.res.status}\n${describeHops(r.hops)}`);
    if (r.res.status === 200) assert.equal(r.url.split('?')[0], `${env.auth}/.pomerium/signed_out`);
  });
});
