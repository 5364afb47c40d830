// Sign-in failures: tampered /.pomerium/sign_in URLs (400), callback problems (forged/missing state, missing CSRF
// cookie, replay → 400 with a link to sign in again; access_denied → 401), and every IdP defect the simulator can
// inject (ID token, userinfo, discovery, unreachable IdP → 502 "sign-in failed"). None of them may leave a session
// cookie. A key rotation at the IdP is absorbed by refetching the JWKS.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startUpstream, unusedPort } from './lib/index.mjs';
import {
  startSim, startSignInEnv, Browser, signIn, describeHops, atOAuthCallback, setsCookie, hasSignInAgainLink, flowCookies,
  BROWSER_ACCEPT, JSON_ACCEPT, USERS,
  stopAll,
} from './lib/signin.mjs';

const route = (up) => [{ from: 'http://127.0.0.1', to: up.origin, allow_any_authenticated_user: true, pass_identity_headers: true }];

let sim, up;
before(async () => {
  [sim, up] = await Promise.all([startSim(), startUpstream({ name: 'signin-failures' })]);
});
after(() => stopAll(up?.stop, sim?.stop));

/** No session cookie was set anywhere in the browser's history. */
function assertNoSession(browser, what) {
  assert.equal(browser.cookie('localhost', '_pomerium_authenticate'), undefined, `${what}: no _pomerium_authenticate`);
  assert.equal(browser.cookie('127.0.0.1', '_pomerium'), undefined, `${what}: no _pomerium`);
  for (const h of browser.hops) {
    const bad = h.setCookie.filter((l) => /^\s*_pomerium(_authenticate)?=[^;]+/.test(l) && !/max-age=0|max-age=-|expires=[^;]*19[67]\d/i.test(l));
    assert.deepEqual(bad, [], `${what}: ${h.url} sets a session cookie`);
  }
}

function assertHtmlPage(res, status, what) {
  assert.equal(res.status, status, `${what}: ${res.status} ${res.headers.location ?? ''}\n${res.text.slice(0, 400)}`);
  assert.equal(res.headers.location, undefined, `${what}: a page, not a redirect`);
  assert.match(res.headers['content-type'] || '', /text\/html/, `${what}: HTML`);
  // like every Postern error page (errors.test.mjs): the request id, in the header and on the page
  const id = res.headers['x-request-id'];
  assert.ok(id, `${what}: X-Request-Id`);
  assert.ok(res.text.includes(id), `${what}: the page shows the request id ${id}`);
}

function assertJsonError(res, status, what) {
  assert.equal(res.status, status, `${what}: ${res.status}\n${res.text.slice(0, 400)}`);
  assert.match(res.headers['content-type'] || '', /application\/json/, `${what}: JSON`);
  const body = JSON.parse(res.text);
  assert.equal(body.status, status);
  assert.equal(typeof body.error, 'string');
  assert.equal(typeof body.request_id, 'string');
  assert.equal(body.request_id, res.headers['x-request-id']);
}

const SIGN_IN_FAILED = /sign[\s-]*in failed/i;

/** Sign in until the IdP redirects to /oauth2/callback; do not call it. Returns { browser, callbackUrl }. */
async function uptoCallback(env, user = USERS.alice) {
  const browser = new Browser();
  const r = await signIn(browser, `${env.route}/protected?q=1`, user.login, user.password, { stop: atOAuthCallback });
  assert.ok(r.stoppedAt, `reached the IdP redirect to /oauth2/callback:\n${describeHops(r.hops)}\n${r.res.text.slice(0, 300)}`);
  const cb = new URL(r.stoppedAt);
  assert.equal(cb.origin, env.auth);
  assert.ok(cb.searchParams.get('code'));
  return { browser, callbackUrl: cb };
}

describe('tampered sign-in URLs', () => {
  let env, signInUrl;
  before(async () => {
    env = await startSignInEnv({ sim, up, routes: route });
    const res = await env.p.request(`${env.route}/page`, { headers: { accept: BROWSER_ACCEPT } });
    assert.equal(res.status, 302, `protected route answers 302: ${res.status}`);
    signInUrl = new URL(res.headers.location);
  });
  after(() => env?.stop());

  it('a flipped signature is a 400 page', async () => {
    const u = new URL(signInUrl);
    const sig = u.searchParams.get('pomerium_signature');
    u.searchParams.set('pomerium_signature', sig.slice(0, 5) + (sig[5] === 'A' ? 'B' : 'A') + sig.slice(6));
    const b = new Browser();
    assertHtmlPage(await b.fetch(u.href), 400, 'flipped signature');
    assertNoSession(b, 'flipped signature');
  });

  it('a changed pomerium_redirect_uri is a 400 page', async () => {
    const u = new URL(signInUrl);
    u.searchParams.set('pomerium_redirect_uri', `${env.route}/other`);
    assertHtmlPage(await new Browser().fetch(u.href), 400, 'changed redirect');
  });

  it('a missing signature, or a changed issued time, is a 400 page', async () => {
    const u = new URL(signInUrl);
    u.searchParams.delete('pomerium_signature');
    assertHtmlPage(await new Browser().fetch(u.href), 400, 'no signature');
    const v = new URL(signInUrl);
    v.searchParams.set('pomerium_issued', String(Number(v.searchParams.get('pomerium_issued')) + 1));
    assertHtmlPage(await new Browser().fetch(v.href), 400, 'changed pomerium_issued');
  });

  it('an expired sign-in URL offers to sign in again', (t) => {
    t.skip('needs the sign-in URL to be more than 15 minutes old (no time travel for Postern)');
  });
});

describe('callback failures', () => {
  let env;
  before(async () => {
    env = await startSignInEnv({ sim, up, routes: route });
  });
  after(() => env?.stop());

  it('a forged state is 400 with a link to sign in again, no session', async () => {
    const { browser, callbackUrl } = await uptoCallback(env);
    const state = callbackUrl.searchParams.get('state');
    const forged = new URL(callbackUrl);
    forged.searchParams.set('state', Buffer.from(`forged|${Date.now()}|x`).toString('base64url') + state.slice(20));
    const res = await browser.fetch(forged.href);
    assertHtmlPage(res, 400, 'forged state');
    assert.ok(hasSignInAgainLink(res.text), `a link to sign in again:\n${res.text.slice(0, 1500)}`);
    assertNoSession(browser, 'forged state');
  });

  it('a state with one character changed is 400', async () => {
    const { browser, callbackUrl } = await uptoCallback(env);
    const state = callbackUrl.searchParams.get('state');
    const i = Math.floor(state.length * 0.75);
    const forged = new URL(callbackUrl);
    forged.searchParams.set('state', state.slice(0, i) + (state[i] === 'A' ? 'B' : 'A') + state.slice(i + 1));
    assertHtmlPage(await browser.fetch(forged.href), 400, 'changed state');
    assertNoSession(browser, 'changed state');
  });

  it('a missing state is 400 with a link to sign in again', async () => {
    const { browser, callbackUrl } = await uptoCallback(env);
    const u = new URL(callbackUrl);
    u.searchParams.delete('state');
    const res = await browser.fetch(u.href);
    assertHtmlPage(res, 400, 'missing state');
    assert.ok(hasSignInAgainLink(res.text), `a link to sign in again:\n${res.text.slice(0, 1500)}`);
    assertNoSession(browser, 'missing state');
  });

  it('a missing CSRF cookie is 400 with a link to sign in again', async () => {
    const { browser, callbackUrl } = await uptoCallback(env);
    const flows = flowCookies(browser);
    assert.equal(flows.length, 1, 'the sign-in flow cookie was set by /.pomerium/sign_in');
    browser.deleteCookie('localhost', flows[0].name);
    const res = await browser.fetch(callbackUrl.href);
    assertHtmlPage(res, 400, 'no CSRF cookie');
    assert.ok(hasSignInAgainLink(res.text), `a link to sign in again:\n${res.text.slice(0, 1500)}`);
    assertNoSession(browser, 'no CSRF cookie');
  });

  it("another browser's CSRF cookie does not match the state: 400", async () => {
    const a = await uptoCallback(env);
    const b = await uptoCallback(env);
    // b's callback URL with a's cookies
    const res = await a.browser.fetch(b.callbackUrl.href);
    assertHtmlPage(res, 400, 'mismatched CSRF cookie');
    assertNoSession(a.browser, 'mismatched CSRF cookie');
  });

  it('a replayed callback (same code and state) is 400 and sets no session', async () => {
    const { browser, callbackUrl } = await uptoCallback(env);
    const before = browser.clone(); // has the CSRF cookie, no session yet
    const first = await browser.fetch(callbackUrl.href);
    assert.equal(first.status, 302, `the first callback succeeds: ${first.status} ${first.text.slice(0, 300)}`);
    assert.ok(setsCookie(first, '_pomerium_authenticate'));

    const again = await browser.fetch(callbackUrl.href); // same browser, now signed in
    assertHtmlPage(again, 400, 'replay, same browser');
    assert.ok(hasSignInAgainLink(again.text), `a link to sign in again:\n${again.text.slice(0, 1500)}`);
    assert.ok(!setsCookie(again, '_pomerium_authenticate'));

    const stolen = await before.fetch(callbackUrl.href); // a copy of the browser from before the first callback
    assertHtmlPage(stolen, 400, 'replay with the pre-callback cookies');
    assertNoSession(before, 'replay with the pre-callback cookies');
  });

  it('the callback without a code is 400', async () => {
    const { browser, callbackUrl } = await uptoCallback(env);
    const u = new URL(callbackUrl);
    u.searchParams.delete('code');
    assertHtmlPage(await browser.fetch(u.href), 400, 'no code');
    assertNoSession(browser, 'no code');
  });

  it('failures are JSON when the client prefers JSON', async () => {
    const { browser, callbackUrl } = await uptoCallback(env);
    const u = new URL(callbackUrl);
    u.searchParams.set('state', 'bm90LWEtc3RhdGU');
    assertJsonError(await browser.fetch(u.href, { headers: { accept: JSON_ACCEPT } }), 400, 'forged state, JSON');
    assertNoSession(browser, 'forged state, JSON');
  });

  it('an IdP error=access_denied with a genuine state is 401, no session', async () => {
    const { browser, callbackUrl } = await uptoCallback(env);
    const u = new URL(`${env.auth}/oauth2/callback`);
    u.searchParams.set('error', 'access_denied');
    u.searchParams.set('error_description', 'User is not assigned to the client application.');
    u.searchParams.set('state', callbackUrl.searchParams.get('state'));
    const res = await browser.fetch(u.href);
    assertHtmlPage(res, 401, 'access_denied');
    assertNoSession(browser, 'access_denied');
  });
});

describe('the IdP refuses the user (not assigned to the app)', () => {
  let env;
  before(async () => {
    env = await startSignInEnv({ sim, up, routes: route, clientExtra: { assigned_groups: ['Finance'] } });
  });
  after(() => env?.stop());

  it('alice (Engineering only) comes back with error=access_denied: 401 page, no session', async () => {
    const b = new Browser();
    const r = await signIn(b, `${env.route}/x`, USERS.alice.login, USERS.alice.password);
    assert.ok(r.callbackUrl && new URL(r.callbackUrl).searchParams.get('error') === 'access_denied', describeHops(r.hops));
    assertHtmlPage(r.res, 401, 'access_denied from the IdP');
    assertNoSession(b, 'access_denied from the IdP');
  });

  it('bob (Finance) signs in', async () => {
    const b = new Browser();
    const r = await signIn(b, `${env.route}/x`, USERS.bob.login, USERS.bob.password);
    assert.equal(r.res.status, 200, describeHops(r.hops));
  });
});

describe('IdP defects fail the sign-in cleanly (502, no session)', () => {
  let env;
  before(async () => {
    env = await startSignInEnv({ sim, up, routes: route, server: 'org' });
    // a first, good sign-in: Postern has discovery and the JWKS cached from here on
    const r = await signIn(new Browser(), `${env.route}/warmup`, USERS.alice.login, USERS.alice.password);
    assert.equal(r.res.status, 200, `warm-up sign-in: ${describeHops(r.hops)}\n${r.res.text.slice(0, 300)}`);
  });
  after(() => env?.stop());

  async function queued() {
    return (await sim.ctl('GET', 'misbehave')).defects;
  }

  async function failWith(defect, { accept } = {}) {
    await sim.ctl('DELETE', 'misbehave');
    await sim.ctl('POST', 'misbehave', { defect, server: 'org', client_id: env.client.client_id });
    const b = new Browser();
    const r = await signIn(b, `${env.route}/after-${defect}`, USERS.alice.login, USERS.alice.password, { stop: atOAuthCallback });
    assert.ok(r.stoppedAt, describeHops(r.hops));
    const res = await b.fetch(r.stoppedAt, accept ? { headers: { accept } } : {});
    const left = await queued();
    assert.deepEqual(left.map((d) => d.defect), [], `the ${defect} defect was used (Postern called the IdP): ${JSON.stringify(left)}`);
    return { res, b };
  }

  for (const defect of [
    'wrong_iss', 'wrong_aud', 'missing_sub', 'missing_iat', 'expired', 'wrong_nonce', 'alg_none', 'hs256_client_secret',
    'bad_signature', 'unknown_kid', 'userinfo_sub_mismatch',
  ]) {
    it(`${defect}: 502 page saying sign-in failed`, async () => {
      const { res, b } = await failWith(defect);
      assertHtmlPage(res, 502, defect);
      assert.match(res.text, SIGN_IN_FAILED, `${defect}: the page says sign-in failed:\n${res.text.slice(0, 1500)}`);
      assertNoSession(b, defect);
      // and the browser cannot use the route
      const after = await b.fetch(`${env.route}/after-${defect}`);
      assert.equal(after.status, 302, `${defect}: still signed out`);
    });
  }

  it('a defect failure is JSON when the client prefers JSON', async () => {
    const { res, b } = await failWith('wrong_aud', { accept: JSON_ACCEPT });
    assertJsonError(res, 502, 'wrong_aud, JSON');
    assertNoSession(b, 'wrong_aud, JSON');
  });

  it('after the defects, a normal sign-in works again', async () => {
    await sim.ctl('DELETE', 'misbehave');
    const r = await signIn(new Browser(), `${env.route}/fine`, USERS.alice.login, USERS.alice.password);
    assert.equal(r.res.status, 200, describeHops(r.hops));
  });
});

describe('IdP signing key rotation', () => {
  // A Postern of its own: an unknown kid makes Postern refetch the JWKS, rate-limited per Postern, so the
  // unknown_kid defect above must not have used up this Postern's refetch.
  let env;
  before(async () => {
    env = await startSignInEnv({ sim, up, routes: route, server: 'org' });
    const r = await signIn(new Browser(), `${env.route}/warmup`, USERS.alice.login, USERS.alice.password);
    assert.equal(r.res.status, 200, `warm-up sign-in (caches the JWKS): ${describeHops(r.hops)}\n${r.res.text.slice(0, 300)}`);
  });
  after(() => env?.stop());

  it('a key rotation at the IdP (new kid) is handled by refetching the JWKS', async () => {
    const keysBefore = await sim.ctl('GET', 'keys');
    await sim.ctl('POST', 'keys/rotate', { server: 'org', mode: 'instant' });
    const keysAfter = await sim.ctl('GET', 'keys');
    assert.notDeepEqual(keysAfter.org, keysBefore.org, 'the simulator rotated');
    const b = new Browser();
    const r = await signIn(b, `${env.route}/rotated`, USERS.alice.login, USERS.alice.password);
    assert.equal(r.res.status, 200, `sign-in after the rotation:\n${describeHops(r.hops)}\n${r.res.text.slice(0, 400)}`);
    assert.ok(b.cookie('127.0.0.1', '_pomerium'));
  });
});

describe('discovery issuer mismatch', () => {
  let env;
  before(async () => {
    // the custom server, used by no other Postern in this file: every discovery document it serves while this
    // Postern runs names the wrong issuer (a trailing slash)
    env = await startSignInEnv({
      sim,
      up,
      routes: route,
      server: 'default',
      beforeStart: () => sim.ctl('POST', 'misbehave', { defect: 'discovery_issuer_mismatch', server: 'default', count: 1000 }),
    });
  });
  after(() => stopAll(() => sim.ctl('DELETE', 'misbehave'), env?.stop));

  it('sign-in fails with a 502 page, no session', async () => {
    const b = new Browser();
    const r = await signIn(b, `${env.route}/x`, USERS.alice.login, USERS.alice.password);
    assertHtmlPage(r.res, 502, `discovery mismatch\n${describeHops(r.hops)}`);
    assert.match(r.res.text, SIGN_IN_FAILED);
    assertNoSession(b, 'discovery mismatch');
    const left = (await sim.ctl('GET', 'misbehave')).defects;
    assert.ok(left.length === 1 && left[0].remaining < 1000, `Postern fetched discovery: ${JSON.stringify(left)}`);
  });
});

describe('unreachable IdP', () => {
  let env;
  before(async () => {
    const dead = await unusedPort();
    env = await startSignInEnv({ sim, up, routes: route, idpUrl: `http://127.0.0.1:${dead}` });
  });
  after(() => env?.stop());

  it('sign-in fails with a 502 page saying sign-in failed, and Postern keeps serving', async () => {
    const b = new Browser();
    const r = await b.follow(`${env.route}/x`);
    assertHtmlPage(r.res, 502, `unreachable IdP\n${describeHops(r.hops)}`);
    assert.match(r.res.text, SIGN_IN_FAILED);
    assertNoSession(b, 'unreachable IdP');
    const ping = await env.p.request(`${env.route}/ping`);
    assert.equal(ping.status, 200);
  });
});
