// Scale support: a generated org (users, groups, memberships from a few numbers) and a simulator that answers no
// request before its keys and state are loaded.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { join } from 'node:path';

import { SIM_DIR, DEMO_SEED, SSWS, startSim } from '../test-helpers.mjs';

const api = async (url, path) => {
  const res = await fetch(`${url}${path}`, { headers: { authorization: `SSWS ${SSWS}` } });
  assert.equal(res.status, 200, path);
  return res.json();
};

test('--generate makes users, groups and exactly groups_per_user distinct memberships per user', async () => {
  const sim = await startSim({ args: ['--generate', 'users=300,groups=30,groups_per_user=5,seed=7'] });
  try {
    const groups = (await api(sim.url, '/api/v1/groups?limit=200')).filter((g) => g.profile.name.startsWith('gen-group-'));
    assert.equal(groups.length, 30);
    let total = 0;
    for (const g of groups) total += (await api(sim.url, `/api/v1/groups/${g.id}/users?limit=1000`)).length;
    assert.equal(total, 300 * 5);
    const [user] = await api(sim.url, `/api/v1/users?filter=${encodeURIComponent('profile.login eq "user000123@gen.example.com"')}`);
    assert.equal(user.status, 'ACTIVE');
    const mine = await api(sim.url, `/api/v1/users/${user.id}/groups?limit=200`);
    assert.equal(mine.length, 5);
    assert.equal(new Set(mine.map((g) => g.id)).size, 5);
    // A past like a real org's: spread over the last year, so a delta query from "now" finds none of it.
    const now = Date.parse((await fetch(`${sim.url}/api/v1/groups?limit=1`, { headers: { authorization: `SSWS ${SSWS}` } })).headers.get('date'));
    const stamps = groups.map((g) => Date.parse(g.lastMembershipUpdated));
    assert.ok(stamps.every((t) => t < now - 86_400_000 && t > now - 366 * 86_400_000), 'generated times lie in the past year');
    assert.ok(new Set(stamps).size > 25, 'generated times differ');
    assert.ok(Date.parse(user.lastUpdated) >= Date.parse(user.created));
    const since = new Date(now - 3_600_000).toISOString();
    const recent = await api(sim.url, `/api/v1/groups?limit=200&filter=${encodeURIComponent(`lastUpdated gt "${since}" or lastMembershipUpdated gt "${since}"`)}`);
    assert.equal(recent.filter((g) => g.profile.name.startsWith('gen-group-')).length, 0);
    const log = await api(sim.url, '/api/v1/logs?since=2000-01-01T00:00:00.000Z&limit=1000');
    assert.equal(log.length, 0, 'a generated org is the starting point, not history');
  } finally {
    await sim.stop();
  }
});

test('bad --generate values are refused at start', async () => {
  for (const arg of ['users=-1', 'groups=2,groups_per_user=3', 'colours=3', 'users=abc']) {
    const child = spawn(process.execPath, [join(SIM_DIR, 'server.mjs'), '--generate', arg], { stdio: 'ignore' });
    const [code] = await once(child, 'exit');
    assert.notEqual(code, 0, arg);
  }
});

test('requests that arrive while the state is still loading wait for it instead of failing', async () => {
  const free = createServer();
  await new Promise((r) => free.listen(0, '127.0.0.1', r));
  const { port } = free.address();
  await new Promise((r) => free.close(r));
  // A generated org makes loading take a noticeable while after the port is bound.
  const child = spawn(process.execPath, [join(SIM_DIR, 'server.mjs'), '--port', String(port), '--seed', DEMO_SEED,
    '--generate', 'users=40000,groups=2000,groups_per_user=5'], { stdio: ['ignore', 'pipe', 'ignore'] });
  let listening = false;
  child.stdout.on('data', () => { listening = true; });
  const statuses = [];
  let early = 0;
  try {
    while (!listening || statuses.length === 0) {
      try {
        const before = listening;
        const res = await fetch(`http://127.0.0.1:${port}/api/v1/users?limit=1`, { headers: { authorization: `SSWS ${SSWS}` } });
        statuses.push(res.status);
        await res.arrayBuffer();
        if (!before) early++;
      } catch {
        await new Promise((r) => setTimeout(r, 20)); // not bound yet
      }
    }
    assert.ok(statuses.every((s) => s === 200), `statuses: ${statuses}`);
    assert.ok(early >= 1, 'a request was sent before the simulator said it was listening');
  } finally {
    child.kill('SIGTERM');
    await once(child, 'exit');
  }
});
