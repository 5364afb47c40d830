// ID token defects for negative relying-party tests, and signing-key rotation.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';

import { decodeJwt, decodeProtectedHeader, createRemoteJWKSet, jwtVerify } from 'jose';

import {
  startSim, ctl, discover, Browser, authRequest, client, DEMO_CLIENT,
} from '../test-helpers.mjs';

let sim;
let config;
let browser;
before(async () => {
  sim = await startSim();
  config = await discover(sim.url);
  browser = new Browser();
  const req = await authRequest(config);
  await browser.signIn(req.url.href, sim.url, 'alice@example.com', 'alice-password'); // SSO session for the rest
});
after(async () => { await sim?.stop(); });

// Runs an authorization with the existing SSO session and redeems the code with
// openid-client; returns the promise of authorizationCodeGrant.
async function codeGrant(cfg = config) {
  const req = await authRequest(cfg);
  const r = await browser.follow(req.url.href, sim.url);
  assert.ok(r.external, 'SSO session is used');
  return client.authorizationCodeGrant(cfg, new URL(r.url), {
    pkceCodeVerifier: req.verifier, expectedState: req.state, expectedNonce: req.nonce,
  });
}

// Same, but returns the raw token response without validating the ID token.
async function rawTokens() {
  const req = await authRequest(config);
  const r = await browser.follow(req.url.href, sim.url);
  const code = new URL(r.url).searchParams.get('code');
  const res = await fetch(`${sim.url}/oauth2/v1/token`, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      authorization: `Basic ${Buffer.from(`${DEMO_CLIENT.client_id}:${DEMO_CLIENT.client_secret}`).toString('base64')}`,
    },
    body: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: DEMO_CLIENT.redirect_uris[0], code_verifier: req.verifier }),
  });
  return res.json();
}

const ID_TOKEN_DEFECTS = {
  wrong_iss: (h, c) => assert.equal(c.iss, `${sim.url}/wrong-issuer`),
  wrong_aud: (h, c) => assert.equal(c.aud, 'some-other-client'),
  missing_sub: (h, c) => assert.equal(c.sub, undefined),
  missing_iat: (h, c) => assert.equal(c.iat, undefined),
  expired: (h, c) => assert.ok(c.exp < Date.now() / 1000),
  future_iat: (h, c) => assert.ok(c.iat > Date.now() / 1000 + 600),
  wrong_nonce: (h, c) => assert.ok(c.nonce),
  alg_none: (h) => assert.equal(h.alg, 'none'),
  hs256_client_secret: (h) => assert.equal(h.alg, 'HS256'),
  unknown_kid: (h) => assert.ok(h.kid),
  bad_signature: (h) => assert.equal(h.alg, 'RS256'),
};

for (const [defect, check] of Object.entries(ID_TOKEN_DEFECTS)) {
  test(`ID token defect ${defect}: the token shows it and a relying party rejects it`, async () => {
    await ctl(sim.url, 'POST', 'misbehave', { defect, server: 'org' });
    const raw = await rawTokens();
    check(decodeProtectedHeader(raw.id_token), decodeJwt(raw.id_token));

    // openid-client skips the signature check of ID tokens from the token
    // endpoint (OIDC Core 3.1.3.7 allows it) and does not look at a future
    // iat, so those defects are checked with jose the way a strict RP would.
    if (['unknown_kid', 'bad_signature', 'future_iat'].includes(defect)) {
      const jwks = createRemoteJWKSet(new URL(`${sim.url}/oauth2/v1/keys`));
      await assert.rejects(jwtVerify(raw.id_token, jwks, {
        issuer: sim.url, audience: DEMO_CLIENT.client_id, algorithms: ['RS256'], maxTokenAge: '1h',
      }));
    } else {
      await ctl(sim.url, 'POST', 'misbehave', { defect, server: 'org' });
      await assert.rejects(codeGrant());
    }

    // only the next token was defective
    const ok = await codeGrant();
    assert.ok(ok.claims().sub);
  });
}

test('userinfo sub mismatch is rejected by openid-client', async () => {
  const tokens = await codeGrant();
  await ctl(sim.url, 'POST', 'misbehave', { defect: 'userinfo_sub_mismatch' });
  await assert.rejects(client.fetchUserInfo(config, tokens.access_token, tokens.claims().sub));
  const fine = await client.fetchUserInfo(config, tokens.access_token, tokens.claims().sub);
  assert.equal(fine.sub, tokens.claims().sub);
});

test('discovery issuer mismatch is rejected by openid-client', async () => {
  await ctl(sim.url, 'POST', 'misbehave', { defect: 'discovery_issuer_mismatch', server: 'default' });
  await assert.rejects(discover(`${sim.url}/oauth2/default`));
  await discover(`${sim.url}/oauth2/default`);
});

test('an unknown defect name is a 400', async () => {
  const res = await fetch(`${sim.url}/__sim/misbehave`, { method: 'POST', body: JSON.stringify({ defect: 'nope' }) });
  assert.equal(res.status, 400);
});

test('key rotation: pre-publish, switch kid, instant rotation', async () => {
  const jwks = async () => (await (await fetch(`${sim.url}/oauth2/v1/keys`)).json()).keys.map((k) => k.kid);
  const kidOf = (t) => decodeProtectedHeader(t.id_token).kid;

  const k0 = await jwks();
  assert.equal(k0.length, 1);
  const t0 = await codeGrant();
  assert.equal(kidOf(t0), k0[0]);

  const pre = await ctl(sim.url, 'POST', 'keys/rotate', { server: 'org', mode: 'prepublish' });
  assert.equal((await jwks()).length, 2);
  assert.equal(kidOf(await codeGrant()), k0[0], 'signing key unchanged after pre-publishing');

  await ctl(sim.url, 'POST', 'keys/rotate', { server: 'org', mode: 'rotate' });
  const t1 = await codeGrant(await discover(sim.url));
  assert.equal(kidOf(t1), pre.org.next_kid, 'the pre-published key now signs');
  assert.deepEqual((await jwks()).sort(), [k0[0], pre.org.next_kid].sort(), 'the old key stays published');

  const inst = await ctl(sim.url, 'POST', 'keys/rotate', { server: 'org', mode: 'instant' });
  assert.deepEqual(await jwks(), [inst.org.signing_kid], 'instant rotation drops old keys');
  const t2 = await codeGrant(await discover(sim.url));
  assert.equal(kidOf(t2), inst.org.signing_kid);

  // SSO and stored tokens survive rotation (provider rebuilt, store kept)
  const ui = await client.fetchUserInfo(config, t0.access_token, t0.claims().sub);
  assert.equal(ui.sub, t0.claims().sub);
});
