// Nothing secret in Postern's output: after a full sign-in, a signed-in request and a sign-out, nothing Postern wrote
// (stdout + stderr) contains the session cookies, pomerium_session_encrypted, the authorization code, the IdP's ID /
// access / refresh tokens, the client secret, or the shared/cookie secrets. The simulator runs behind a recording
// proxy (the "tap") so the test knows the tokens the IdP issued to Postern.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { sleep } from './lib/index.mjs';
import { startSignInEnv, Browser, signIn, describeHops, USERS, JSON_ACCEPT } from './lib/signin.mjs';

describe('no secrets in the logs', () => {
  let env;
  before(async () => {
    env = await startSignInEnv({
      tap: true,
      scopes: ['openid', 'profile', 'email', 'offline_access', 'groups'],
      routes: (u) => [{ from: 'http://127.0.0.1', to: u.origin, allow_any_authenticated_user: true, pass_identity_headers: true }],
    });
  });
  after(() => env?.stop());

  it('sign-in, a signed-in request and sign-out leave no secret in stdout or stderr', async () => {
    const b = new Browser();
    const r = await signIn(b, `${env.route}/secret-check`, USERS.alice.login, USERS.alice.password);
    assert.equal(r.res.status, 200, describeHops(r.hops));
    const session = b.cookie('127.0.0.1', '_pomerium');
    const authSession = b.cookie('localhost', '_pomerium_authenticate');
    // The flow cookie is spent by the callback: take its value from the Set-Cookie that made it.
    const csrf = r.hops.flatMap((h) => h.setCookie ?? []).map((l) => /^_pomerium_csrf_[^=]+=([^;]+)/.exec(l)?.[1]).find(Boolean);
    assert.ok(csrf, 'the sign-in set a flow cookie');
    assert.ok(session && authSession, 'signed in');
    assert.ok(r.code, 'captured the authorization code');
    assert.ok(r.sessionEncrypted, 'captured pomerium_session_encrypted');

    const res = await env.p.request(`${env.route}/api?token=x`, { headers: { accept: JSON_ACCEPT, cookie: `_pomerium=${session}` } });
    assert.equal(res.status, 200);

    const out = await b.follow(`${env.route}/.pomerium/sign_out`);
    assert.equal(out.res.status, 200, `sign-out ends on the signed-out page:\n${describeHops(out.hops)}`);

    // what the IdP gave Postern, as seen by the tap
    const tokenCalls = env.sim.tap.records.filter((x) => /\/v1\/token$/.test(x.path.split('?')[0]) && x.status === 200);
    assert.ok(tokenCalls.length >= 1, `Postern called the token endpoint: ${env.sim.tap.records.map((x) => `${x.method} ${x.path} ${x.status}`).join('\n')}`);
    const tokens = tokenCalls.map((x) => JSON.parse(x.resBody));
    const idToken = tokens[0].id_token;
    const accessToken = tokens[0].access_token;
    const refreshToken = tokens[0].refresh_token;
    assert.ok(idToken && accessToken && refreshToken, `ID, access and refresh tokens issued: ${Object.keys(tokens[0])}`);

    await env.p.stop();
    await sleep(50);
    const all = env.p.stdout + env.p.stderr;
    assert.ok(all.length > 0, 'Postern wrote something (the access log at least)');

    const secrets = {
      '_pomerium cookie': session,
      '_pomerium_authenticate cookie': authSession,
      '_pomerium_csrf cookie': csrf,
      pomerium_session_encrypted: r.sessionEncrypted,
      'authorization code': r.code,
      'ID token': idToken,
      'access token': accessToken,
      'refresh token': refreshToken,
      'client secret': env.client.client_secret,
      shared_secret: env.sharedSecret,
      cookie_secret: env.cookieSecret,
    };
    for (const t of tokens) {
      for (const k of ['id_token', 'access_token', 'refresh_token']) if (t[k]) secrets[`${k} (${t[k].slice(0, 6)}…)`] = t[k];
    }
    const leaks = [];
    for (const [what, value] of Object.entries(secrets)) {
      if (!value) continue;
      if (all.includes(value)) leaks.push(what);
      // a JWT's payload or signature alone is as bad
      const parts = value.split('.');
      if (parts.length === 3) {
        for (const [i, part] of parts.entries()) {
          if (i > 0 && part.length >= 16 && all.includes(part)) leaks.push(`${what} (part ${i})`);
        }
      }
      // url-encoded forms too
      const enc = encodeURIComponent(value);
      if (enc !== value && all.includes(enc)) leaks.push(`${what} (url-encoded)`);
    }
    assert.deepEqual(leaks, [], `secrets in Postern's output: ${leaks.join(', ')}`);
  });
});
