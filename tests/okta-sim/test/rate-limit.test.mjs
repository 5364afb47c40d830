// Rate-limit headers, a spent budget, injected faults and the call log.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';

import { startSim, ctl, api } from '../test-helpers.mjs';

let sim;
before(async () => { sim = await startSim(); });
after(async () => { await sim?.stop(); });

const num = (res, h) => Number(res.headers.get(h));
const dateSec = (res) => Math.floor(Date.parse(res.headers.get('date')) / 1000);

test('every API response carries X-Rate-Limit-* headers; discovery and keys are not limited', async () => {
  const res = await api(sim.url, '/api/v1/groups');
  assert.equal(res.status, 200);
  assert.equal(num(res, 'x-rate-limit-limit'), 500);
  assert.equal(num(res, 'x-rate-limit-remaining'), 499);
  const reset = num(res, 'x-rate-limit-reset');
  assert.ok(reset > dateSec(res) && reset <= dateSec(res) + 61, 'Reset is epoch seconds about a minute ahead');
  assert.ok(res.headers.get('x-okta-request-id'));
  for (const p of ['/.well-known/openid-configuration', '/oauth2/v1/keys', '/oauth2/default/v1/keys']) {
    const r = await fetch(sim.url + p);
    assert.equal(r.headers.get('x-rate-limit-limit'), null, p);
  }
});

test('a spent budget gives 429 E0000047 with Remaining 0 and the window\'s Reset, until the window closes', async () => {
  await ctl(sim.url, 'POST', 'rate-limit', { bucket: '/api/v1/users', limit: 3 });
  const seen = [];
  for (let i = 0; i < 3; i++) {
    const r = await api(sim.url, '/api/v1/users');
    assert.equal(r.status, 200);
    seen.push(num(r, 'x-rate-limit-remaining'));
  }
  assert.deepEqual(seen, [2, 1, 0]);
  const first = await api(sim.url, '/api/v1/users');
  const limited = await api(sim.url, '/api/v1/users');
  for (const r of [first, limited]) {
    assert.equal(r.status, 429);
    assert.equal(num(r, 'x-rate-limit-limit'), 3);
    assert.equal(num(r, 'x-rate-limit-remaining'), 0);
    assert.equal(r.headers.get('retry-after'), null);
    const body = await r.json();
    assert.equal(body.errorCode, 'E0000047');
    assert.equal(body.errorSummary, 'API call exceeded rate limit due to too many requests.');
  }
  const reset = num(limited, 'x-rate-limit-reset');
  const wait = reset - dateSec(limited);
  assert.ok(wait >= 59 && wait <= 61, `Reset - Date is about 60 s (got ${wait})`);

  // other buckets are unaffected
  assert.equal((await api(sim.url, '/api/v1/groups')).status, 200);

  // once the simulator clock passes Reset, the budget is back
  await ctl(sim.url, 'POST', 'clock', { advance: wait + 1 });
  const after = await api(sim.url, '/api/v1/users');
  assert.equal(after.status, 200);
  assert.equal(num(after, 'x-rate-limit-remaining'), 2);
  assert.ok(num(after, 'x-rate-limit-reset') > reset);
  await ctl(sim.url, 'POST', 'clock', { reset: true });
  await ctl(sim.url, 'DELETE', 'rate-limit');
});

test('injected faults: N x 500 then normal service; concurrency 429 has Limit 0', async () => {
  await ctl(sim.url, 'POST', 'faults', { path_prefix: '/api/v1/groups', status: 500, count: 2 });
  assert.equal((await api(sim.url, '/api/v1/groups')).status, 500);
  assert.equal((await api(sim.url, '/api/v1/users')).status, 200, 'other paths unaffected');
  assert.equal((await api(sim.url, '/api/v1/groups')).status, 500);
  assert.equal((await api(sim.url, '/api/v1/groups')).status, 200);

  await ctl(sim.url, 'POST', 'faults', { path_prefix: '/api/v1/', status: 429, count: 1, concurrency: true });
  const r = await api(sim.url, '/api/v1/users');
  assert.equal(r.status, 429);
  assert.equal(num(r, 'x-rate-limit-limit'), 0);
  assert.equal(num(r, 'x-rate-limit-remaining'), 0);
  assert.equal((await r.json()).errorCode, 'E0000047');

  await ctl(sim.url, 'POST', 'faults', { path_prefix: '/oauth2/v1/token', status: 503, count: 1 });
  const t = await fetch(`${sim.url}/oauth2/v1/token`, { method: 'POST' });
  assert.equal(t.status, 503);
});

test('duplicate rate-limit header mode', async () => {
  await ctl(sim.url, 'POST', 'settings', { duplicate_rate_limit_headers: true });
  const r = await api(sim.url, '/api/v1/users');
  assert.match(r.headers.get('x-rate-limit-reset'), /^\d+, \d+$/);
  await ctl(sim.url, 'POST', 'settings', { duplicate_rate_limit_headers: false });
});

test('the call log records method, path and status', async () => {
  await ctl(sim.url, 'DELETE', 'calls');
  await api(sim.url, '/api/v1/users?limit=2');
  await api(sim.url, '/api/v1/users/nobody', { token: 'bad-token' });
  const { count, calls } = await ctl(sim.url, 'GET', 'calls?path_prefix=/api/v1/users');
  assert.equal(count, 2);
  assert.deepEqual(calls.map((c) => [c.method, c.path, c.status]), [
    ['GET', '/api/v1/users?limit=2', 200],
    ['GET', '/api/v1/users/nobody', 401],
  ]);
});
