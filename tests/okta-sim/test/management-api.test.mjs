// The Management API: authentication errors, object shapes, filters and
// pagination over hundreds of users and groups.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';

import { startSim, ctl, api, links } from '../test-helpers.mjs';

let sim;
before(async () => {
  sim = await startSim();
  const users = Array.from({ length: 450 }, (_, i) => ({
    login: `user${String(i).padStart(3, '0')}@bulk.example`, firstName: 'Bulk', lastName: `User${i}`, password: 'pw-bulk',
  }));
  await ctl(sim.url, 'POST', 'users', { users });
  const groups = Array.from({ length: 250 }, (_, i) => ({ name: `bulk-group-${String(i).padStart(3, '0')}`, description: 'bulk' }));
  await ctl(sim.url, 'POST', 'groups', { groups });
});
after(async () => { await sim?.stop(); });

// Walks a list by following rel="next"; returns { items, pages }.
async function walk(path) {
  const items = [];
  let pages = 0;
  let next = new URL(path, sim.url).href;
  while (next) {
    const res = await api(sim.url, next);
    assert.equal(res.status, 200, next);
    const page = await res.json();
    items.push(...page);
    pages += 1;
    const l = links(res);
    assert.ok(l.self, 'every page has rel="self"');
    next = l.next;
    assert.ok(pages < 100, 'pagination terminates');
  }
  return { items, pages };
}

test('a bad SSWS token gives 401 E0000011 with the full error object', async () => {
  for (const auth of ['SSWS not-a-real-token', undefined, 'Bearer not-a-real-token', 'Basic Zm9vOmJhcg==']) {
    const res = await fetch(`${sim.url}/api/v1/users`, { headers: auth ? { authorization: auth } : {} });
    assert.equal(res.status, 401, String(auth));
    const body = await res.json();
    assert.equal(body.errorCode, 'E0000011');
    assert.equal(body.errorSummary, 'Invalid token provided');
    assert.equal(body.errorLink, 'E0000011');
    assert.match(body.errorId, /^oae/);
    assert.deepEqual(body.errorCauses, []);
    assert.ok(res.headers.get('x-okta-request-id'));
    assert.ok(res.headers.get('x-rate-limit-remaining'));
  }
});

test('a revoked API token is refused', async () => {
  await ctl(sim.url, 'POST', 'api-tokens', { token: 'temporary-token-123', name: 't' });
  assert.equal((await api(sim.url, '/api/v1/groups', { token: 'temporary-token-123' })).status, 200);
  await ctl(sim.url, 'DELETE', 'api-tokens/temporary-token-123');
  assert.equal((await api(sim.url, '/api/v1/groups', { token: 'temporary-token-123' })).status, 401);
});

test('pagination walks 450+ users at limit=200 without loss or duplicates', async () => {
  const { items, pages } = await walk('/api/v1/users?limit=200');
  const ids = items.map((u) => u.id);
  assert.equal(new Set(ids).size, ids.length, 'no duplicates');
  assert.equal(items.length, 454, '450 bulk users + 4 seed users');
  assert.equal(pages, 3);
  for (const u of items) assert.match(u.id, /^00u[A-Za-z0-9]{17}$/);
  const bulk = items.filter((u) => u.profile.login.endsWith('@bulk.example')).map((u) => u.profile.login);
  assert.equal(new Set(bulk).size, 450);
});

test('pagination walks 250+ groups at limit=200 without loss or duplicates', async () => {
  const { items, pages } = await walk('/api/v1/groups?limit=200');
  const ids = items.map((g) => g.id);
  assert.equal(new Set(ids).size, ids.length);
  assert.equal(items.length, 252, '250 bulk groups + Engineering + Finance');
  assert.equal(pages, 2);
  for (const g of items) {
    assert.match(g.id, /^00g[A-Za-z0-9]{17}$/);
    assert.equal(g.type, 'OKTA_GROUP');
    assert.deepEqual(g.objectClass, ['okta:user_group']);
    assert.ok(g.lastMembershipUpdated);
  }
});

test('next links repeat the query and the last page has none', async () => {
  const res = await api(sim.url, '/api/v1/users?limit=200&filter=status%20eq%20%22ACTIVE%22');
  const l = links(res);
  const next = new URL(l.next);
  assert.equal(next.searchParams.get('limit'), '200');
  assert.equal(next.searchParams.get('filter'), 'status eq "ACTIVE"');
  assert.ok(next.searchParams.get('after'));
  const clamped = await api(sim.url, '/api/v1/users?limit=1000');
  assert.equal((await clamped.json()).length, 200, 'limit above the maximum is clamped to 200');
  const tail = await api(sim.url, `/api/v1/users?limit=200&filter=${encodeURIComponent('profile.lastName eq "User7"')}`);
  assert.equal((await tail.json()).length, 1);
  assert.equal(links(tail).next, undefined, 'the last page has no next link');
  await ctl(sim.url, 'POST', 'settings', { reject_oversize_limit: true });
  assert.equal((await api(sim.url, '/api/v1/users?limit=1000')).status, 400);
  await ctl(sim.url, 'POST', 'settings', { reject_oversize_limit: false });
});

test('a forged cursor gives 400 E0000001', async () => {
  const res = await api(sim.url, '/api/v1/users?after=00uFAKEFAKEFAKEFAKE1');
  assert.equal(res.status, 400);
  assert.equal((await res.json()).errorCode, 'E0000001');
});

test('user shape, lookup by id and login, 404 E0000007', async () => {
  const list = await (await api(sim.url, '/api/v1/users?filter=profile.login%20eq%20%22alice%40example.com%22')).json();
  assert.equal(list.length, 1);
  const alice = list[0];
  for (const k of ['id', 'status', 'created', 'activated', 'statusChanged', 'lastLogin', 'lastUpdated', 'passwordChanged', 'type', 'profile', 'credentials', '_links']) {
    assert.ok(k in alice, k);
  }
  assert.match(alice.created, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  assert.equal(alice.profile.login, 'alice@example.com');
  assert.equal(alice._links.self.href, `${sim.url}/api/v1/users/${alice.id}`);
  assert.equal(alice.password, undefined);

  for (const key of [alice.id, 'alice@example.com', 'alice']) {
    const r = await api(sim.url, `/api/v1/users/${encodeURIComponent(key)}`);
    assert.equal(r.status, 200, key);
    assert.equal((await r.json()).id, alice.id);
  }
  const missing = await api(sim.url, '/api/v1/users/00uDOESNOTEXIST000001');
  assert.equal(missing.status, 404);
  const body = await missing.json();
  assert.equal(body.errorCode, 'E0000007');
  assert.match(body.errorSummary, /^Not found: /);
  assert.equal((await api(sim.url, '/api/v1/groups/00gDOESNOTEXIST000001')).status, 404);

  const groups = await (await api(sim.url, `/api/v1/users/${alice.id}/groups`)).json();
  assert.deepEqual(groups.map((g) => g.profile.name), ['Engineering']);
});

test('group members and expand=stats', async () => {
  const [eng] = await (await api(sim.url, '/api/v1/groups?q=Eng')).json();
  assert.equal(eng.profile.name, 'Engineering');
  const members = await (await api(sim.url, `/api/v1/groups/${eng.id}/users`)).json();
  assert.deepEqual(members.map((u) => u.profile.login), ['alice@example.com', 'carol@example.com']);
  const one = await (await api(sim.url, `/api/v1/groups/${eng.id}?expand=stats`)).json();
  assert.equal(one._embedded.stats.usersCount, 2);
});

test('filters: status, lastUpdated, lastMembershipUpdated; bad filter is E0000031', async () => {
  const suspended = await (await api(sim.url, `/api/v1/users?filter=${encodeURIComponent('status eq "SUSPENDED"')}`)).json();
  assert.deepEqual(suspended.map((u) => u.profile.login), ['dave@example.com']);

  const before = new Date(Date.now() - 1000).toISOString();
  const [fin] = await (await api(sim.url, '/api/v1/groups?q=Fin')).json();
  await ctl(sim.url, 'POST', 'clock', { advance: 5 });
  const mark = (await ctl(sim.url, 'GET', 'clock')).now;
  await ctl(sim.url, 'POST', 'clock', { advance: 5 });
  await ctl(sim.url, 'POST', `groups/${fin.id}/members`, { users: ['user001@bulk.example'] });
  const delta = `lastUpdated gt "${mark}" or lastMembershipUpdated gt "${mark}"`;
  const changed = await (await api(sim.url, `/api/v1/groups?limit=200&filter=${encodeURIComponent(delta)}`)).json();
  assert.deepEqual(changed.map((g) => g.profile.name), ['Finance']);
  const all = await (await api(sim.url, `/api/v1/groups?limit=200&filter=${encodeURIComponent(`lastUpdated gt "${before}"`)}`)).json();
  assert.ok(all.length >= 2);

  for (const bad of ['status eq ACTIVE', 'nosuch eq "x"', 'status co "ACT"', 'status eq "A" and', '((status eq "A")']) {
    const r = await api(sim.url, `/api/v1/users?filter=${encodeURIComponent(bad)}`);
    assert.equal(r.status, 400, bad);
    assert.equal((await r.json()).errorCode, 'E0000031', bad);
  }
  await ctl(sim.url, 'POST', 'clock', { reset: true });
});

test('search is case-insensitive and includes DEPROVISIONED; the plain list hides them', async () => {
  await ctl(sim.url, 'POST', 'users/user449@bulk.example/deactivate');
  const plain = await (await api(sim.url, '/api/v1/users?q=user449')).json();
  assert.equal(plain.length, 0);
  const found = await (await api(sim.url, `/api/v1/users?search=${encodeURIComponent('profile.login sw "USER449" and status eq "deprovisioned"')}`)).json();
  assert.equal(found.length, 1);
  assert.equal(found[0].status, 'DEPROVISIONED');
});

test('comma-joined Link header mode', async () => {
  await ctl(sim.url, 'POST', 'settings', { link_header: 'joined' });
  const res = await api(sim.url, '/api/v1/groups?limit=10');
  const raw = res.headers.get('link');
  assert.match(raw, /rel="self", <.*>; rel="next"$/);
  await ctl(sim.url, 'POST', 'settings', { link_header: 'separate' });
});

test('oversized bodies are refused with 413', async () => {
  const res = await fetch(`${sim.url}/api/v1/users`, { method: 'POST', body: Buffer.alloc(1024 * 1024 + 1), headers: { authorization: 'SSWS x' } });
  assert.equal(res.status, 413);
});
