// Sign-in with openid-client (code + PKCE) against both authorization servers,
// then refresh, userinfo, introspection, revocation and end-session.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';

import { createRemoteJWKSet, jwtVerify, importJWK } from 'jose';

import {
  startSim, ctl, discover, Browser, signInWithClient, authRequest, client, DEMO_CLIENT, SERVICE_APP,
  SERVICE_APP_PRIVATE_JWK, api,
} from '../test-helpers.mjs';

let sim;
before(async () => { sim = await startSim(); });
after(async () => { await sim?.stop(); });

for (const server of ['org', 'default']) {
  test(`${server} server: code + PKCE sign-in, refresh, userinfo, logout`, async () => {
    const issuer = server === 'org' ? sim.url : `${sim.url}/oauth2/default`;
    const config = await discover(issuer);
    const meta = config.serverMetadata();
    assert.equal(meta.issuer, issuer);
    assert.deepEqual(meta.code_challenge_methods_supported, ['S256']);
    assert.equal(meta.jwks_uri, server === 'org' ? `${sim.url}/oauth2/v1/keys` : `${issuer}/v1/keys`);
    assert.equal(meta.end_session_endpoint, server === 'org' ? `${sim.url}/oauth2/v1/logout` : `${issuer}/v1/logout`);

    const browser = new Browser();
    const { tokens, claims, callback } = await signInWithClient(config, browser, sim.url, {
      username: 'carol@example.com', password: 'carol-password',
    });
    assert.equal(callback.searchParams.get('iss'), null, 'Okta sends no iss in the authorization response');
    assert.match(claims.sub, /^00u[A-Za-z0-9]{17}$/);
    assert.equal(claims.iss, issuer);
    assert.equal(claims.aud, DEMO_CLIENT.client_id);
    assert.equal(claims.ver, 1);
    assert.match(claims.idp, /^00o/);
    assert.match(claims.jti, /^ID\./);
    assert.deepEqual(claims.amr, ['pwd']);
    assert.equal(typeof claims.auth_time, 'number');
    assert.equal(claims.exp - claims.iat, 3600);
    assert.equal(claims.preferred_username, 'carol@example.com');
    assert.equal(claims.email, 'carol@example.com');
    assert.deepEqual(claims.groups, ['Engineering', 'Finance']);
    assert.equal(tokens.token_type.toLowerCase(), 'bearer');
    assert.equal(tokens.expires_in, 3600);
    assert.ok(tokens.refresh_token, 'offline_access gives a refresh token');
    assert.equal(tokens.scope, 'openid profile email groups offline_access');

    if (server === 'default') {
      // custom-server access tokens are JWTs for api://default, verifiable with the JWKS
      const jwks = createRemoteJWKSet(new URL(meta.jwks_uri));
      const { payload, protectedHeader } = await jwtVerify(tokens.access_token, jwks, { issuer, audience: 'api://default' });
      assert.equal(protectedHeader.alg, 'RS256');
      assert.equal(payload.cid, DEMO_CLIENT.client_id);
      assert.equal(payload.uid, claims.sub);
      assert.equal(payload.sub, 'carol@example.com');
      assert.deepEqual(payload.scp.sort(), ['email', 'groups', 'offline_access', 'openid', 'profile']);
      assert.match(payload.jti, /^AT\./);
    } else {
      assert.equal(tokens.access_token.split('.').length, 1, 'org-server access tokens are opaque here');
    }

    const info = await client.fetchUserInfo(config, tokens.access_token, claims.sub);
    assert.equal(info.sub, claims.sub);
    assert.deepEqual(info.groups, ['Engineering', 'Finance']);
    assert.equal(info.given_name, 'Carol');

    const intro = await client.tokenIntrospection(config, tokens.access_token);
    assert.equal(intro.active, true);
    assert.equal(intro.uid, claims.sub);
    assert.equal(intro.username, 'carol@example.com');

    const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token);
    assert.ok(refreshed.access_token);
    assert.ok(refreshed.id_token, 'refresh with openid returns a new ID token');
    assert.equal(refreshed.claims().sub, claims.sub);
    assert.equal(refreshed.refresh_token, tokens.refresh_token, 'STATIC rotation keeps the refresh token');

    // the SSO session lets a second authorization through without the form
    const again = await authRequest(config);
    const sso = await browser.follow(again.url.href, sim.url);
    assert.ok(sso.external, 'SSO session skips the sign-in form');
    assert.ok(new URL(sso.url).searchParams.get('code'));

    // end session: 302 to the registered URI with state, SSO cleared
    const end = client.buildEndSessionUrl(config, {
      id_token_hint: tokens.id_token, post_logout_redirect_uri: 'http://localhost:8443/', state: 'bye-1',
    });
    const res = await browser.fetch(end.href);
    assert.equal(res.status, 302);
    assert.equal(res.headers.get('location'), 'http://localhost:8443/?state=bye-1');
    const third = await authRequest(config);
    const form = await browser.follow(third.url.href, sim.url);
    assert.equal(form.external, undefined);
    assert.match(await form.res.text(), /<form method="post"/, 'after logout the form is shown again');

    // revocation: the access token stops being active, revoke always answers 200
    await client.tokenRevocation(config, refreshed.access_token);
    const gone = await client.tokenIntrospection(config, refreshed.access_token);
    assert.deepEqual(gone, { active: false });
    await client.tokenRevocation(config, 'not-a-token');
  });
}

test('client_secret_post is accepted for a client_secret_basic app', async () => {
  const config = await discover(sim.url, { auth: client.ClientSecretPost(DEMO_CLIENT.client_secret) });
  const { tokens } = await signInWithClient(config, new Browser(), sim.url, { username: 'bob@example.com', password: 'bob-password' });
  assert.ok(tokens.id_token);
  assert.deepEqual(tokens.claims().groups, ['Finance']);
});

test('thin ID token mode on the org server keeps profile and groups for userinfo', async () => {
  await ctl(sim.url, 'POST', 'thin-id-token', { enabled: true, server: 'org' });
  try {
    const config = await discover(sim.url);
    const { tokens, claims } = await signInWithClient(config, new Browser(), sim.url);
    assert.equal(claims.groups, undefined);
    assert.equal(claims.given_name, undefined);
    assert.equal(claims.preferred_username, 'alice@example.com');
    assert.equal(claims.email, 'alice@example.com');
    assert.equal(claims.name, 'Alice Anderson');
    const info = await client.fetchUserInfo(config, tokens.access_token, claims.sub);
    assert.deepEqual(info.groups, ['Engineering']);
    assert.equal(info.given_name, 'Alice');
  } finally {
    await ctl(sim.url, 'POST', 'thin-id-token', { enabled: false, server: 'org' });
  }
});

test('refresh token only when offline_access was asked for', async () => {
  const config = await discover(sim.url);
  const { tokens } = await signInWithClient(config, new Browser(), sim.url, { scope: 'openid email' });
  assert.equal(tokens.refresh_token, undefined);
  assert.equal(tokens.scope, 'openid email');
});

test('service app: private_key_jwt client credentials at the org server, then the Management API', async () => {
  const key = await importJWK(SERVICE_APP_PRIVATE_JWK, 'RS256');
  // Okta wants aud = the token endpoint URL (openid-client defaults to the issuer)
  const config = await client.discovery(new URL(sim.url), SERVICE_APP.client_id, undefined,
    client.PrivateKeyJwt({ key, kid: SERVICE_APP_PRIVATE_JWK.kid }, {
      [client.modifyAssertion]: (_h, payload) => { payload.aud = `${sim.url}/oauth2/v1/token`; },
    }), { execute: [client.allowInsecureRequests] });
  const tok = await client.clientCredentialsGrant(config, { scope: 'okta.users.read okta.groups.read' });
  assert.equal(tok.expires_in, 3600);
  assert.equal(tok.scope, 'okta.users.read okta.groups.read');

  const users = await api(sim.url, '/api/v1/users', { auth: `Bearer ${tok.access_token}` });
  assert.equal(users.status, 200);
  assert.equal((await users.json()).length, 4, 'alice, bob, carol and the SUSPENDED dave');
  const logs = await api(sim.url, '/api/v1/logs', { auth: `Bearer ${tok.access_token}` });
  assert.equal(logs.status, 403, 'okta.logs.read was not granted to this token');
  assert.equal((await logs.json()).errorCode, 'E0000006');
  assert.match(logs.headers.get('www-authenticate'), /error="insufficient_scope"/);
});

test('private_key_jwt with an audience other than the token endpoint is refused', async () => {
  const key = await importJWK(SERVICE_APP_PRIVATE_JWK, 'RS256');
  const config = await client.discovery(new URL(sim.url), SERVICE_APP.client_id, undefined,
    client.PrivateKeyJwt({ key, kid: SERVICE_APP_PRIVATE_JWK.kid }, {
      [client.modifyAssertion]: (_h, payload) => { payload.aud = sim.url; },
    }), { execute: [client.allowInsecureRequests] });
  await assert.rejects(client.clientCredentialsGrant(config, { scope: 'okta.users.read' }), (err) => {
    assert.equal(err.error, 'invalid_client');
    assert.equal(err.error_description, 'The audience claim for client_assertion must be the endpoint invoked for the request.');
    return true;
  });
});

test('authorize also accepts a form POST (custom server)', async () => {
  const issuer = `${sim.url}/oauth2/default`;
  const config = await discover(issuer);
  const req = await authRequest(config);
  const browser = new Browser();
  const first = await browser.follow(`${issuer}/v1/authorize`, sim.url, { method: 'POST', form: Object.fromEntries(req.url.searchParams) });
  const html = await first.res.text();
  const action = /<form method="post" action="([^"]+)"/.exec(html)[1];
  const done = await browser.follow(new URL(action, first.url).href, sim.url, {
    method: 'POST', form: { username: 'bob@example.com', password: 'bob-password' },
  });
  const tokens = await client.authorizationCodeGrant(config, new URL(done.url), {
    pkceCodeVerifier: req.verifier, expectedState: req.state, expectedNonce: req.nonce,
  });
  assert.equal(tokens.claims().preferred_username, 'bob@example.com');
});
