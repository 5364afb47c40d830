// Negative tests of Okta's authorization and token endpoint checks.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';

import {
  startSim, ctl, discover, Browser, authRequest, client, CALLBACK, DEMO_CLIENT,
} from '../test-helpers.mjs';

let sim;
let config;
before(async () => {
  sim = await startSim();
  config = await discover(sim.url);
});
after(async () => { await sim?.stop(); });

const basic = `Basic ${Buffer.from(`${DEMO_CLIENT.client_id}:${DEMO_CLIENT.client_secret}`).toString('base64')}`;

async function token(params, { auth = basic } = {}) {
  const res = await fetch(`${sim.url}/oauth2/v1/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...(auth ? { authorization: auth } : {}) },
    body: new URLSearchParams(params),
  });
  return { status: res.status, body: await res.json() };
}

// A valid authorization request URL with some parameters replaced or removed.
async function authorizeUrl(changes = {}) {
  const { url, verifier, state } = await authRequest(config);
  for (const [k, v] of Object.entries(changes)) {
    if (v === undefined) url.searchParams.delete(k);
    else url.searchParams.set(k, v);
  }
  return { url, verifier, state };
}

// Signs in and returns the code plus its verifier.
async function freshCode(browser = new Browser()) {
  const req = await authRequest(config);
  const cb = await browser.signIn(req.url.href, sim.url, 'alice@example.com', 'alice-password');
  return { code: cb.searchParams.get('code'), verifier: req.verifier };
}

test('redirect_uri mismatch: 400 error page, never a redirect', async () => {
  const { url } = await authorizeUrl({ redirect_uri: 'http://localhost:8443/evil' });
  const res = await fetch(url, { redirect: 'manual', headers: { accept: 'text/html' } });
  assert.equal(res.status, 400);
  assert.equal(res.headers.get('location'), null);
  assert.match(res.headers.get('content-type'), /text\/html/);
  const html = await res.text();
  assert.match(html, /invalid_request/);
  assert.match(html, /must be a Login redirect URI in the client app settings/);
});

test('redirect_uri must match exactly (no prefix, no trailing slash)', async () => {
  for (const bad of [`${CALLBACK}/`, `${CALLBACK}?x=1`, CALLBACK.replace('localhost', '127.0.0.1')]) {
    const { url } = await authorizeUrl({ redirect_uri: bad });
    const res = await fetch(url, { redirect: 'manual' });
    assert.equal(res.status, 400, bad);
    assert.equal(res.headers.get('location'), null, bad);
  }
});

test('unknown client_id: error page, no redirect', async () => {
  const { url } = await authorizeUrl({ client_id: 'no-such-client' });
  const res = await fetch(url, { redirect: 'manual' });
  assert.equal(res.status, 400);
  assert.equal(res.headers.get('location'), null);
});

test('plain PKCE is rejected (redirected error with state)', async () => {
  const { url, state } = await authorizeUrl({ code_challenge_method: 'plain', code_challenge: 'a'.repeat(43) });
  const res = await fetch(url, { redirect: 'manual' });
  assert.ok(res.status >= 300 && res.status < 400);
  const loc = new URL(res.headers.get('location'));
  assert.equal(loc.origin + loc.pathname, CALLBACK);
  assert.equal(loc.searchParams.get('error'), 'invalid_request');
  assert.equal(loc.searchParams.get('state'), state);
  assert.equal(loc.searchParams.get('code'), null);
});

test('PKCE required by the app: a request without code_challenge is rejected', async () => {
  const { url } = await authorizeUrl({ code_challenge: undefined, code_challenge_method: undefined });
  const res = await fetch(url, { redirect: 'manual' });
  const loc = new URL(res.headers.get('location'));
  assert.equal(loc.searchParams.get('error'), 'invalid_request');
  assert.equal(loc.searchParams.get('error_description'), 'PKCE code challenge is required by the application.');
});

test('missing state is rejected', async () => {
  const { url } = await authorizeUrl({ state: undefined });
  const res = await fetch(url, { redirect: 'manual' });
  const loc = new URL(res.headers.get('location'));
  assert.equal(loc.searchParams.get('error'), 'invalid_request');
  assert.match(loc.searchParams.get('error_description'), /state/);
  assert.equal(loc.searchParams.get('code'), null);
});

test('strict_state: state with characters outside Okta\'s documented set is rejected', async () => {
  const lax = await fetch((await authorizeUrl({ state: 'abc=' })).url, { redirect: 'manual' });
  assert.match(lax.headers.get('location'), /\/signin\//, 'by default any state is accepted');
  await ctl(sim.url, 'POST', 'settings', { strict_state: true });
  try {
    const { url } = await authorizeUrl({ state: 'abc=/+' });
    const res = await fetch(url, { redirect: 'manual' });
    const loc = new URL(res.headers.get('location'));
    assert.equal(loc.searchParams.get('error'), 'invalid_request');
  } finally {
    await ctl(sim.url, 'POST', 'settings', { strict_state: false });
  }
});

test('unknown scope gives invalid_scope; missing openid too', async () => {
  for (const scope of ['openid bogus.scope', 'profile email']) {
    const { url } = await authorizeUrl({ scope });
    const res = await fetch(url, { redirect: 'manual' });
    const loc = new URL(res.headers.get('location'));
    assert.equal(loc.searchParams.get('error'), 'invalid_scope', scope);
  }
});

test('prompt=none without a session gives login_required', async () => {
  const { url, state } = await authorizeUrl({ prompt: 'none' });
  const res = await fetch(url, { redirect: 'manual' });
  const loc = new URL(res.headers.get('location'));
  assert.equal(loc.searchParams.get('error'), 'login_required');
  assert.equal(loc.searchParams.get('state'), state);
});

test('codes are single use', async () => {
  const { code, verifier } = await freshCode();
  const params = { grant_type: 'authorization_code', code, redirect_uri: CALLBACK, code_verifier: verifier };
  const first = await token(params);
  assert.equal(first.status, 200);
  const second = await token(params);
  assert.equal(second.status, 400);
  assert.deepEqual(second.body, { error: 'invalid_grant', error_description: 'The authorization code is invalid or has expired.' });
});

test('codes expire after 300 s (simulator clock)', async () => {
  const { code, verifier } = await freshCode();
  await ctl(sim.url, 'POST', 'clock', { advance: 301 });
  try {
    const res = await token({ grant_type: 'authorization_code', code, redirect_uri: CALLBACK, code_verifier: verifier });
    assert.equal(res.status, 400);
    assert.equal(res.body.error, 'invalid_grant');
  } finally {
    await ctl(sim.url, 'POST', 'clock', { reset: true });
  }
});

test('wrong code_verifier: PKCE verification failed.', async () => {
  const { code } = await freshCode();
  const res = await token({ grant_type: 'authorization_code', code, redirect_uri: CALLBACK, code_verifier: 'x'.repeat(43) });
  assert.deepEqual(res.body, { error: 'invalid_grant', error_description: 'PKCE verification failed.' });
});

test('missing code_verifier: invalid_request', async () => {
  const { code } = await freshCode();
  const res = await token({ grant_type: 'authorization_code', code, redirect_uri: CALLBACK });
  assert.equal(res.status, 400);
  assert.equal(res.body.error, 'invalid_request');
});

test('redirect_uri at the token endpoint must match the authorize request', async () => {
  const { code, verifier } = await freshCode();
  const res = await token({
    grant_type: 'authorization_code', code, redirect_uri: DEMO_CLIENT.redirect_uris[1], code_verifier: verifier,
  });
  assert.equal(res.body.error, 'invalid_grant');
  assert.equal(res.body.error_description, "The 'redirect_uri' does not match the redirection URI used in the authorization request.");
});

test('client authentication: wrong secret, none, and two methods at once', async () => {
  const { code, verifier } = await freshCode();
  const params = { grant_type: 'authorization_code', code, redirect_uri: CALLBACK, code_verifier: verifier };
  const wrong = await token(params, { auth: `Basic ${Buffer.from(`${DEMO_CLIENT.client_id}:nope`).toString('base64')}` });
  assert.equal(wrong.status, 401);
  assert.equal(wrong.body.error, 'invalid_client');
  assert.equal(wrong.body.error_description, 'The client secret supplied for a confidential client is invalid.');
  const none = await token(params, { auth: null });
  assert.equal(none.status, 400);
  assert.equal(none.body.error, 'invalid_request');
  const both = await token({ ...params, client_id: DEMO_CLIENT.client_id, client_secret: DEMO_CLIENT.client_secret });
  assert.equal(both.status, 401);
  assert.equal(both.body.error, 'invalid_request');
  assert.match(both.body.error_description, /Cannot supply multiple client credentials/);
});

test('sign-in form: wrong password and a suspended user are refused', async () => {
  for (const [username, password] of [['alice@example.com', 'wrong'], ['dave@example.com', 'dave-password'], ['nobody@example.com', 'x']]) {
    const browser = new Browser();
    const { url } = await authRequest(config);
    const first = await browser.follow(url.href, sim.url);
    const html = await first.res.text();
    const action = /<form method="post" action="([^"]+)"/.exec(html)[1];
    const res = await browser.fetch(new URL(action, first.url).href, { method: 'POST', form: { username, password } });
    assert.equal(res.status, 401, username);
    assert.match(await res.text(), /Unable to sign in/);
  }
});

test('the sign-in page lists the demo users and their passwords', async () => {
  const browser = new Browser();
  const { url } = await authRequest(config);
  const first = await browser.follow(url.href, sim.url);
  const html = await first.res.text();
  assert.match(html, /alice@example\.com/);
  assert.match(html, /alice-password/);
  assert.doesNotMatch(html, /dave@example\.com/, 'users who cannot sign in are not offered');
});

test('logout: id_token_hint required, post_logout_redirect_uri must be registered', async () => {
  const missing = await fetch(`${sim.url}/oauth2/v1/logout?post_logout_redirect_uri=${encodeURIComponent('http://localhost:8443/')}`, { redirect: 'manual' });
  assert.equal(missing.status, 400);
  assert.equal(missing.headers.get('location'), null);

  const req = await authRequest(config);
  const cb = await new Browser().signIn(req.url.href, sim.url, 'alice@example.com', 'alice-password');
  const tokens = await client.authorizationCodeGrant(config, cb, { pkceCodeVerifier: req.verifier, expectedState: req.state, expectedNonce: req.nonce });
  const bad = await fetch(`${sim.url}/oauth2/v1/logout?${new URLSearchParams({ id_token_hint: tokens.id_token, post_logout_redirect_uri: 'http://evil.example/' })}`, { redirect: 'manual' });
  assert.equal(bad.status, 400);
  assert.equal(bad.headers.get('location'), null);

  // an expired (but genuine) hint is accepted
  await ctl(sim.url, 'POST', 'clock', { advance: 7200 });
  try {
    const ok = await fetch(`${sim.url}/oauth2/v1/logout?${new URLSearchParams({ id_token_hint: tokens.id_token, state: 's1' })}`, { redirect: 'manual' });
    assert.equal(ok.status, 302);
  } finally {
    await ctl(sim.url, 'POST', 'clock', { reset: true });
  }

  // a hint from the other authorization server is not valid here
  const other = await fetch(`${sim.url}/oauth2/default/v1/logout?${new URLSearchParams({ id_token_hint: tokens.id_token })}`, { redirect: 'manual' });
  assert.equal(other.status, 400);
});
