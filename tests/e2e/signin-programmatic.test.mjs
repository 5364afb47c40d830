// Programmatic sign-in (the CLI flow): /.pomerium/api/v1/login returns a sign-in URL, the browser flow ends on a
// loopback listener with ?pomerium_jwt=…, and that token works as `Authorization: Pomerium <token>` (401, never a
// redirect, when it is bad). Redirect hosts outside programmatic_redirect_domain_whitelist are refused.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startUpstream } from './lib/index.mjs';
import {
  startSim, startSignInEnv, startLoopback, Browser, signIn, describeHops, simUser, echoOf, echoHeader, decodeJwt,
  flipChar, stopAll, BROWSER_ACCEPT, JSON_ACCEPT, USERS,
} from './lib/signin.mjs';

let sim, up, env, loop, alice;
before(async () => {
  [sim, up, loop] = await Promise.all([startSim(), startUpstream({ name: 'signin-programmatic' }), startLoopback()]);
  env = await startSignInEnv({
    sim,
    up,
    routes: (u) => [{ from: 'http://127.0.0.1', to: u.origin, allow_any_authenticated_user: true, pass_identity_headers: true }],
  });
  alice = await simUser(sim, USERS.alice.login);
});
after(() => stopAll(env?.stop, loop?.stop, up?.stop, sim?.stop));

const loginApi = (redirect, opts = {}) =>
  env.p.request(`${env.route}/.pomerium/api/v1/login?pomerium_redirect_uri=${encodeURIComponent(redirect)}`, opts);

describe('programmatic login', () => {
  let token;

  it('/.pomerium/api/v1/login answers 200 text/plain with a sign-in URL on the authenticate host', async () => {
    const res = await loginApi(`${loop.origin}/cb`);
    assert.equal(res.status, 200, `${res.status} ${res.headers.location ?? ''} ${res.text.slice(0, 300)}`);
    assert.match(res.headers['content-type'] || '', /^text\/plain/);
    const u = new URL(res.text.trim());
    assert.equal(u.origin, env.auth);
    assert.equal(u.pathname, '/.pomerium/sign_in');
    assert.ok(u.searchParams.get('pomerium_signature'), 'a signed URL');
  });

  it('the browser flow ends on the loopback URL with pomerium_jwt', async () => {
    const res = await loginApi(`${loop.origin}/cb`);
    assert.equal(res.status, 200);
    const b = new Browser();
    const r = await signIn(b, res.text.trim(), USERS.alice.login, USERS.alice.password);
    assert.equal(r.res.status, 200, `ends at the loopback listener:\n${describeHops(r.hops)}\n${r.res.text.slice(0, 300)}`);
    const landed = new URL(r.url);
    assert.equal(landed.origin, loop.origin, describeHops(r.hops));
    assert.equal(landed.pathname, '/cb');
    token = landed.searchParams.get('pomerium_jwt');
    assert.ok(token && token.length > 20, `pomerium_jwt in ${r.url}`);
    assert.equal(await loop.next(), r.url, 'the loopback listener saw the redirect');
  });

  it('Authorization: Pomerium <token> reaches the route as alice; the header is not forwarded', async () => {
    assert.ok(token, 'needs the previous test');
    const res = await env.p.request(`${env.route}/api/data`, { headers: { accept: JSON_ACCEPT, authorization: `Pomerium ${token}` } });
    assert.equal(res.status, 200, `${res.status} ${res.text.slice(0, 300)}`);
    const echo = echoOf(res);
    assert.equal(echo.headers.authorization, undefined, 'Authorization: Pomerium … is stripped');
    const claims = decodeJwt(echoHeader(echo, 'x-pomerium-jwt-assertion'));
    assert.equal(claims.sub, alice.id);
    assert.equal(claims.email, 'alice@example.com');
    // a browser-like Accept makes no difference for a token request
    const html = await env.p.request(`${env.route}/page`, { headers: { accept: BROWSER_ACCEPT, authorization: `Pomerium ${token}` } });
    assert.equal(html.status, 200);
  });

  it('a bad token is 401, never a redirect (any Accept)', async () => {
    assert.ok(token, 'needs the previous test');
    for (const bad of [flipChar(token), 'garbage', `${token}x`]) {
      for (const accept of [JSON_ACCEPT, BROWSER_ACCEPT, '*/*']) {
        const res = await env.p.request(`${env.route}/api/data`, { headers: { accept, authorization: `Pomerium ${bad}` } });
        assert.equal(res.status, 401, `token ${bad.slice(0, 12)}… Accept ${accept}: ${res.status} ${res.headers.location ?? ''}`);
        assert.equal(res.headers.location, undefined);
      }
    }
  });

  it('a redirect host outside programmatic_redirect_domain_whitelist is 400', async () => {
    for (const target of ['https://evil.example/cb', 'http://evil.example:8080/cb', `http://127.0.0.1.evil.example:${loop.port}/cb`]) {
      const res = await loginApi(target);
      assert.equal(res.status, 400, `${target}: ${res.status} ${res.text.slice(0, 200)}`);
      assert.ok(!res.text.includes('/.pomerium/sign_in'), `${target}: no sign-in URL handed out`);
    }
  });

  it('localhost and ::1 are allowed by default', async () => {
    for (const target of [`http://localhost:${loop.port}/cb`, `http://[::1]:${loop.port}/cb`]) {
      const res = await loginApi(target);
      assert.equal(res.status, 200, `${target}: ${res.status} ${res.text.slice(0, 200)}`);
    }
  });
});
