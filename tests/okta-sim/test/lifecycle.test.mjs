// User lifecycle (deactivate, suspend, session clear, membership changes): the
// tokens it revokes and the System Log events it writes; System Log polling.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';

import {
  startSim, ctl, api, links, discover, Browser, signInWithClient, authRequest, client,
} from '../test-helpers.mjs';

let sim;
let config;
before(async () => {
  sim = await startSim();
  config = await discover(sim.url);
});
after(async () => { await sim?.stop(); });

async function logs(query = '') {
  const res = await api(sim.url, `/api/v1/logs${query}`);
  assert.equal(res.status, 200);
  return { events: await res.json(), links: links(res) };
}

async function newUser(login, groups = []) {
  await ctl(sim.url, 'POST', 'users', { login, firstName: 'Test', lastName: login.split('@')[0], password: 'pw-1234' });
  for (const g of groups) await ctl(sim.url, 'POST', `groups/${g}/members`, { users: [login] });
}

test('deactivation revokes tokens: refresh gives invalid_grant, userinfo 401, and a System Log event', async () => {
  await newUser('erin@example.com', ['Engineering']);
  const browser = new Browser();
  const { tokens, claims } = await signInWithClient(config, browser, sim.url, { username: 'erin@example.com', password: 'pw-1234' });
  await client.refreshTokenGrant(config, tokens.refresh_token); // works before

  await ctl(sim.url, 'POST', 'users/erin@example.com/deactivate');

  await assert.rejects(client.refreshTokenGrant(config, tokens.refresh_token), (err) => {
    assert.equal(err.error, 'invalid_grant');
    assert.equal(err.error_description, 'The refresh token is invalid or expired.');
    return true;
  });
  const ui = await fetch(`${sim.url}/oauth2/v1/userinfo`, { headers: { authorization: `Bearer ${tokens.access_token}` } });
  assert.equal(ui.status, 401);
  assert.equal(ui.headers.get('www-authenticate'), 'Bearer error="invalid_token", error_description="The access token is invalid"');

  const { events } = await logs(`?filter=${encodeURIComponent(`eventType eq "user.lifecycle.deactivate" and target.id eq "${claims.sub}"`)}`);
  assert.equal(events.length, 1);
  const ev = events[0];
  assert.equal(ev.eventType, 'user.lifecycle.deactivate');
  assert.equal(ev.displayMessage, 'Deactivate Okta user');
  assert.equal(ev.outcome.result, 'SUCCESS');
  assert.match(ev.uuid, /^[0-9a-f-]{36}$/);
  assert.match(ev.published, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  assert.equal(ev.version, '0');
  assert.equal(ev.severity, 'INFO');
  assert.equal(ev.actor.type, 'User');
  assert.deepEqual(ev.target, [{
    id: claims.sub, type: 'User', alternateId: 'erin@example.com', displayName: 'Test erin', detailEntry: null,
  }]);

  // the old SSO session is gone: authorize shows the form, and erin cannot sign in
  const user = await (await api(sim.url, `/api/v1/users/${claims.sub}`)).json();
  assert.equal(user.status, 'DEPROVISIONED');
  const hidden = await (await api(sim.url, '/api/v1/users?q=erin')).json();
  assert.equal(hidden.length, 0);
});

test('suspension revokes tokens and logs user.lifecycle.suspend; unsuspend restores sign-in', async () => {
  await newUser('frank@example.com');
  const { tokens } = await signInWithClient(config, new Browser(), sim.url, { username: 'frank@example.com', password: 'pw-1234' });
  await ctl(sim.url, 'POST', 'users/frank@example.com/suspend');
  await assert.rejects(client.refreshTokenGrant(config, tokens.refresh_token), { error: 'invalid_grant' });
  const { events } = await logs(`?filter=${encodeURIComponent('eventType eq "user.lifecycle.suspend"')}`);
  assert.equal(events.length, 1);
  await ctl(sim.url, 'POST', 'users/frank@example.com/unsuspend');
  const again = await signInWithClient(config, new Browser(), sim.url, { username: 'frank@example.com', password: 'pw-1234' });
  assert.ok(again.tokens.access_token);
  // wrong-state transitions are Okta errors
  const res = await fetch(`${sim.url}/__sim/users/frank@example.com/unsuspend`, { method: 'POST' });
  assert.equal(res.status, 400);
  assert.equal((await res.json()).errorCode, 'E0000001');
});

test('session clear ends the SSO session; with oauth_tokens it also revokes tokens', async () => {
  await newUser('gina@example.com');
  const browser = new Browser();
  const { tokens } = await signInWithClient(config, browser, sim.url, { username: 'gina@example.com', password: 'pw-1234' });
  await ctl(sim.url, 'POST', 'users/gina@example.com/clear-sessions', {});
  await client.refreshTokenGrant(config, tokens.refresh_token); // tokens survive a plain session clear
  const probe = await authRequest(config);
  const shown = await browser.follow(probe.url.href, sim.url);
  assert.equal(shown.external, undefined, 'the SSO session is gone: the sign-in form is shown');
  assert.match(await shown.res.text(), /<form method="post"/);
  const second = await signInWithClient(config, browser, sim.url, { username: 'gina@example.com', password: 'pw-1234' });
  await ctl(sim.url, 'POST', 'users/gina@example.com/clear-sessions', { oauth_tokens: true });
  await assert.rejects(client.refreshTokenGrant(config, second.tokens.refresh_token), { error: 'invalid_grant' });
  const { events } = await logs(`?filter=${encodeURIComponent('eventType eq "user.session.clear"')}`);
  assert.equal(events.length, 2);
});

test('membership changes write group.user_membership.add/remove with User and UserGroup targets', async () => {
  await newUser('hank@example.com', ['Finance']);
  await ctl(sim.url, 'DELETE', 'groups/Finance/members/hank@example.com');
  const { events } = await logs(`?filter=${encodeURIComponent('eventType sw "group.user_membership" and target.alternateId eq "hank@example.com"')}`);
  assert.deepEqual(events.map((e) => e.eventType), ['group.user_membership.add', 'group.user_membership.remove']);
  const rm = events[1];
  assert.equal(rm.legacyEventType, 'core.user_group_member.user_remove');
  assert.deepEqual(rm.target.map((t) => t.type), ['User', 'UserGroup']);
  assert.equal(rm.target[1].displayName, 'Finance');
});

test('System Log polling: next is always present and returns only newer events', async () => {
  const first = await logs('?limit=1000');
  assert.ok(first.links.next, 'polling mode always has next');
  assert.ok(first.links.self);
  const empty = await api(sim.url, first.links.next);
  assert.deepEqual(await empty.json(), []);
  const stillNext = links(empty).next;
  assert.ok(stillNext, 'next even on an empty page');

  await newUser('ivy@example.com', ['Engineering']);
  await ctl(sim.url, 'POST', 'users/ivy@example.com/suspend');
  const res = await api(sim.url, stillNext);
  const fresh = await res.json();
  assert.deepEqual(fresh.map((e) => e.eventType), ['user.lifecycle.create', 'group.user_membership.add', 'user.lifecycle.suspend']);
  const after = await api(sim.url, links(res).next);
  assert.deepEqual(await after.json(), []);
});

test('System Log paging by limit, bounded mode and parameter errors', async () => {
  const all = (await logs('?limit=1000')).events;
  assert.ok(all.length >= 10);
  // walk with limit=3 in polling mode until an empty page
  const seen = [];
  let next = `${sim.url}/api/v1/logs?limit=3`;
  for (let i = 0; i < 100; i++) {
    const r = await api(sim.url, next);
    const page = await r.json();
    if (!page.length) break;
    seen.push(...page.map((e) => e.uuid));
    next = links(r).next;
  }
  assert.deepEqual(seen, all.map((e) => e.uuid));

  const since = new Date(Date.now() - 3600_000).toISOString();
  const until = new Date(Date.now() + 3600_000).toISOString();
  const desc = await api(sim.url, `/api/v1/logs?since=${since}&until=${until}&sortOrder=DESCENDING&limit=1000`);
  const descEvents = await desc.json();
  assert.equal(descEvents.length, all.length);
  assert.equal(links(desc).next, undefined, 'bounded mode ends');
  assert.ok(Date.parse(descEvents[0].published) >= Date.parse(descEvents[descEvents.length - 1].published));

  const bad = await api(sim.url, `/api/v1/logs?since=${since}&after=abc`);
  assert.equal(bad.status, 400);
  assert.equal((await bad.json()).errorCode, 'E0000001');
});

test('refresh-token rotation with leeway 0: reuse of a rotated token revokes the family', async () => {
  await ctl(sim.url, 'POST', 'clients', {
    client_id: 'rotating-app',
    client_secret: 'rotating-app-secret-0123456789',
    redirect_uris: ['http://localhost:8443/oauth2/callback'],
    refresh_token: { rotation_type: 'ROTATE', leeway: 0 },
  });
  const cfg = await discover(sim.url, { clientId: 'rotating-app', secret: 'rotating-app-secret-0123456789' });
  const { tokens } = await signInWithClient(cfg, new Browser(), sim.url);
  const r1 = await client.refreshTokenGrant(cfg, tokens.refresh_token);
  assert.notEqual(r1.refresh_token, tokens.refresh_token, 'ROTATE issues a new refresh token');
  await assert.rejects(client.refreshTokenGrant(cfg, tokens.refresh_token), { error: 'invalid_grant' });
  await assert.rejects(client.refreshTokenGrant(cfg, r1.refresh_token), { error: 'invalid_grant' }, 'the family is revoked');
  const { events } = await logs(`?filter=${encodeURIComponent('eventType eq "app.oauth2.token.detect_reuse"')}`);
  assert.equal(events.length, 1);
});

test('refresh-token rotation with leeway 30: a retry inside the leeway works, after it fails', async () => {
  await ctl(sim.url, 'POST', 'clients', {
    client_id: 'leeway-app',
    client_secret: 'leeway-app-secret-0123456789',
    redirect_uris: ['http://localhost:8443/oauth2/callback'],
    refresh_token: { rotation_type: 'ROTATE', leeway: 30 },
  });
  const cfg = await discover(sim.url, { clientId: 'leeway-app', secret: 'leeway-app-secret-0123456789' });
  const { tokens } = await signInWithClient(cfg, new Browser(), sim.url);
  const r1 = await client.refreshTokenGrant(cfg, tokens.refresh_token);
  assert.notEqual(r1.refresh_token, tokens.refresh_token);
  const retry = await client.refreshTokenGrant(cfg, tokens.refresh_token);
  assert.ok(retry.access_token, 'the rotated-out token is still good inside the leeway');
  await ctl(sim.url, 'POST', 'clock', { advance: 31 });
  try {
    await assert.rejects(client.refreshTokenGrant(cfg, tokens.refresh_token), { error: 'invalid_grant' });
  } finally {
    await ctl(sim.url, 'POST', 'clock', { reset: true });
  }
});

test('token lifetimes are configurable and follow the simulator clock', async () => {
  await ctl(sim.url, 'POST', 'lifetimes', { server: 'org', access_token: 120 });
  try {
    const { tokens, claims } = await signInWithClient(config, new Browser(), sim.url);
    assert.equal(tokens.expires_in, 120);
    await client.fetchUserInfo(config, tokens.access_token, claims.sub);
    await ctl(sim.url, 'POST', 'clock', { advance: 121 });
    const ui = await fetch(`${sim.url}/oauth2/v1/userinfo`, { headers: { authorization: `Bearer ${tokens.access_token}` } });
    assert.equal(ui.status, 401);
    const intro = await client.tokenIntrospection(config, tokens.access_token);
    assert.deepEqual(intro, { active: false });
    // the refresh token still works and yields a fresh access token
    const fresh = await client.refreshTokenGrant(config, tokens.refresh_token, undefined);
    assert.ok(fresh.access_token);
  } finally {
    await ctl(sim.url, 'POST', 'clock', { reset: true });
    await ctl(sim.url, 'POST', 'lifetimes', { server: 'org', access_token: 3600 });
  }
});
