// The command line: one stdout line, --url-file, --host, clean exits.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { SIM_DIR, DEMO_SEED, startSim, ctl } from '../test-helpers.mjs';

test('prints exactly one stdout line, writes --url-file, exits on SIGTERM', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'okta-sim-'));
  try {
    const urlFile = join(dir, 'url');
    const child = spawn(process.execPath, [join(SIM_DIR, 'server.mjs'), '--port', '0', '--host', '127.0.0.1', '--seed', DEMO_SEED, '--url-file', urlFile], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.resume();
    while (!out.includes('\n')) await once(child.stdout, 'data');
    const m = /^okta-sim listening on (http:\/\/127\.0\.0\.1:(\d+))\n$/.exec(out);
    assert.ok(m, `unexpected stdout: ${JSON.stringify(out)}`);
    assert.equal(readFileSync(urlFile, 'utf8').trim(), m[1]);
    const res = await fetch(`${m[1]}/.well-known/openid-configuration`);
    assert.equal((await res.json()).issuer, m[1]);
    // a full sign-in page round trip must not print anything more on stdout
    await fetch(`${m[1]}/__sim/state`);
    child.kill('SIGTERM');
    const [code] = await once(child, 'exit');
    assert.equal(code, 0);
    assert.equal(out.split('\n').length, 2, 'exactly one line on stdout');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('--exit-with-stdin: closing stdin ends the process', async () => {
  const sim = await startSim();
  sim.child.stdin.end();
  const [code] = await once(sim.child, 'exit');
  assert.equal(code, 0);
});

test('bad arguments exit with status 2', async () => {
  const child = spawn(process.execPath, [join(SIM_DIR, 'server.mjs'), '--bogus'], { stdio: 'ignore' });
  const [code] = await once(child, 'exit');
  assert.equal(code, 2);
});

test('reset restores the seed state and the clock', async () => {
  const sim = await startSim();
  try {
    await ctl(sim.url, 'POST', 'users', { login: 'temp@example.com', password: 'x' });
    await ctl(sim.url, 'POST', 'clock', { advance: 3600 });
    assert.equal((await ctl(sim.url, 'GET', 'state')).users, 5);
    await ctl(sim.url, 'POST', 'reset', {});
    const state = await ctl(sim.url, 'GET', 'state');
    assert.equal(state.users, 4);
    assert.equal(state.clock.offset_seconds, 0);
    assert.equal(state.log_events, 0);
  } finally {
    await sim.stop();
  }
});
