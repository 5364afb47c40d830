// The command line and configuration loading: flags, `validate`, config errors with FILE:LINE: KEY, environment
// variables (env wins, POLICY/ROUTES base64, maps as JSON), warnings for unknown and not-yet-supported keys.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { runPostern, startPostern, startUpstream, publicRoute, toYaml } from './lib/index.mjs';

const escRe = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

// `config error: FILE:LINE: KEY: …` — KEY may be written with its route path (`routes[0].from`).
function configErrorRe(file, line, key) {
  return new RegExp(`config error: ${escRe(file)}:${line}: (?:[\\w\\[\\]]+\\.)*${escRe(key)}: \\S`);
}

function assertNoCrashOutput(r) {
  const all = r.stdout + r.stderr;
  assert.doesNotMatch(all, /terminate called|Aborted|Segmentation fault|core dumped|AddressSanitizer|what\(\):/);
  assert.doesNotMatch(all, /^\s+at \S+ \(|^#\d+ 0x[0-9a-f]+/m, 'no stack trace');
}

// Every error case: exit status 1, no signal, no stack trace, and a matching `config error:` line.
async function expectConfigError({ config, env, line, key, re, args }) {
  const r = await runPostern({ config, env, args });
  assert.equal(r.timedOut, false, `postern did not exit (still running after 10 s); stderr:\n${r.stderr}`);
  assert.equal(r.signal, null, `postern died of ${r.signal}; stderr:\n${r.stderr}`);
  assert.equal(r.code, 1, `exit status ${r.code}, want 1; stderr:\n${r.stderr}`);
  const want = re ?? configErrorRe(r.configFile, line, key);
  assert.ok(
    r.messages.some((m) => want.test(m)),
    `no stderr line matches ${want}\nstderr:\n${r.stderr}`,
  );
  assertNoCrashOutput(r);
  return r;
}

describe('command line', { concurrency: true }, () => {
  it('--version prints a line starting "postern " and exits 0', async () => {
    const r = await runPostern({ argv: ['--version'] });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout.split('\n')[0], /^postern \S/);
  });

  it('accepts the single-dash -config form and serves /ping', async (t) => {
    const p = await startPostern({
      argv: ['-config', '{config}'],
      config: { address: '127.0.0.1:0', insecure_server: true },
      t,
    });
    assert.equal(p.tls, false);
    const res = await p.request('http://anything.example.test/ping');
    assert.equal(res.status, 200);
  });

  it('validate --config on a valid file exits 0 without serving', async () => {
    const r = await runPostern({
      argv: ['validate', '--config', '{config}'],
      config: {
        address: '127.0.0.1:0',
        insecure_server: true,
        routes: [publicRoute('http://app.example.test', 'http://127.0.0.1:9')],
      },
    });
    assert.equal(r.code, 0, `exit ${r.code}; stderr:\n${r.stderr}`);
    assert.ok(!r.messages.some((m) => /^listening/.test(m)), 'validate must not start listening');
  });

  it('validate --config prints every problem and exits 1', async () => {
    const yaml = [
      'address: 127.0.0.1:0', // 1
      'insecure_server: true', // 2
      'routes:', // 3
      '  - from: http://app.example.test/with/path', // 4
      '    to: http://127.0.0.1:9', // 5
      '    allow_public_unauthenticated_access: true', // 6
      '  - from: http://other.example.test', // 7
      '    to: http://127.0.0.1:9', // 8
      '    timeout: abc', // 9
      '',
    ].join('\n');
    const r = await runPostern({ argv: ['validate', '--config', '{config}'], config: yaml });
    assert.equal(r.code, 1, `exit ${r.code}; output:\n${r.stdout}${r.stderr}`);
    const out = [...r.messages, ...r.stdout.split('\n')];
    for (const re of [configErrorRe(r.configFile, 4, 'from'), configErrorRe(r.configFile, 9, 'timeout')]) {
      assert.ok(out.some((m) => re.test(m)), `no output line matches ${re}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`);
    }
    assertNoCrashOutput(r);
  });
});

describe('config errors stop startup with exit 1 and FILE:LINE: KEY', { concurrency: true }, () => {
  const head = ['address: 127.0.0.1:0', 'insecure_server: true', 'routes:'];
  const route = (...lines) => [...head, ...lines, ''].join('\n');

  it('a `from` with a path', () =>
    expectConfigError({
      config: route('  - from: http://app.example.test/some/path', '    to: http://127.0.0.1:9'),
      line: 4,
      key: 'from',
    }));

  it('a route without `to`', () =>
    expectConfigError({
      config: route('  - from: http://app.example.test', '    allow_public_unauthenticated_access: true'),
      line: 4,
      key: 'to',
    }));

  it('a duration `abc`', () =>
    expectConfigError({
      config: route('  - from: http://app.example.test', '    to: http://127.0.0.1:9', '    timeout: abc'),
      line: 6,
      key: 'timeout',
    }));

  it('a global duration `abc` (timeout_read)', () =>
    expectConfigError({
      config: ['address: 127.0.0.1:0', 'insecure_server: true', 'timeout_read: abc', ''].join('\n'),
      line: 3,
      key: 'timeout_read',
    }));

  it('`address: nonsense`', () =>
    expectConfigError({ config: 'address: nonsense\ninsecure_server: true\n', line: 1, key: 'address' }));

  it('a YAML syntax error names its line', async () => {
    const r = await runPostern({
      config: ['address: 127.0.0.1:0', 'insecure_server: true', 'timeout_read: 30s: oops', 'routes: []', ''].join('\n'),
    });
    assert.equal(r.code, 1, `exit ${r.code}, signal ${r.signal}; stderr:\n${r.stderr}`);
    const re = new RegExp(`config error: ${escRe(r.configFile)}:3: \\S`);
    assert.ok(r.messages.some((m) => re.test(m)), `no stderr line matches ${re}\nstderr:\n${r.stderr}`);
    assertNoCrashOutput(r);
  });

  it('a non-boolean `insecure_server`', () =>
    expectConfigError({ config: 'address: 127.0.0.1:0\ninsecure_server: maybe\n', line: 2, key: 'insecure_server' }));

  it('an invalid `regex`', () =>
    expectConfigError({
      config: route(
        '  - from: http://app.example.test',
        '    to: http://127.0.0.1:9',
        '    allow_public_unauthenticated_access: true',
        '    regex: "/items/(unclosed"',
      ),
      line: 7,
      key: 'regex',
    }));

  it('a `tls_custom_ca_file` that does not exist', () =>
    expectConfigError({
      config: route(
        '  - from: http://app.example.test',
        '    to: https://127.0.0.1:9',
        '    tls_custom_ca_file: /nonexistent/postern-e2e/ca.pem',
      ),
      line: 6,
      key: 'tls_custom_ca_file',
    }));

  it('websockets on a route with an h2c:// upstream (HTTP/2 only)', () =>
    expectConfigError({
      config: route(
        '  - from: http://app.example.test',
        '    to: h2c://127.0.0.1:9',
        '    allow_websockets: true',
      ),
      line: 6,
      key: 'allow_websockets',
    }));

  it('a nonsense config (plain words, not a mapping)', async () => {
    const r = await runPostern({ config: 'this is not a postern config at all\n' });
    assert.equal(r.code, 1, `exit ${r.code}, signal ${r.signal}; stderr:\n${r.stderr}`);
    assert.ok(
      r.messages.some((m) => m.includes(`config error: ${r.configFile}`)),
      `no "config error: ${r.configFile}…" line\nstderr:\n${r.stderr}`,
    );
    assertNoCrashOutput(r);
  });

  it('a config file that does not exist', async () => {
    const r = await runPostern({ argv: ['--config', '/nonexistent/postern-e2e/config.yaml'] });
    assert.equal(r.code, 1, `exit ${r.code}, signal ${r.signal}; stderr:\n${r.stderr}`);
    assert.ok(
      r.messages.some((m) => m.includes('config error: /nonexistent/postern-e2e/config.yaml')),
      `stderr:\n${r.stderr}`,
    );
    assertNoCrashOutput(r);
  });

  it('an environment variable with a bad value names the variable', () =>
    expectConfigError({
      config: 'address: 127.0.0.1:0\n',
      env: { INSECURE_SERVER: 'maybe' },
      re: /config error: environment variable INSECURE_SERVER: \S/,
    }));

  it('a bad duration in an environment variable names the variable', () =>
    expectConfigError({
      config: 'address: 127.0.0.1:0\ninsecure_server: true\n',
      env: { TIMEOUT_READ: 'abc' },
      re: /config error: environment variable TIMEOUT_READ: \S/,
    }));
});

describe('configuration sources', { concurrency: true }, () => {
  let a, b;
  before(async () => {
    [a, b] = await Promise.all([startUpstream({ name: 'a' }), startUpstream({ name: 'b' })]);
  });
  after(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
  });
  const b64 = (s) => Buffer.from(s).toString('base64');

  it('runs from environment variables alone (ADDRESS, INSECURE_SERVER, ROUTES as base64 YAML)', async (t) => {
    const routes = toYaml([publicRoute('http://env.example.test', a.origin)]);
    const p = await startPostern({
      env: { ADDRESS: '127.0.0.1:0', INSECURE_SERVER: 'true', ROUTES: b64(routes) },
      t,
    });
    const res = await p.request('http://env.example.test/hello');
    assert.equal(res.status, 200);
    assert.equal(res.json().name, 'a');
  });

  it('the environment wins over the file', async (t) => {
    const p = await startPostern({
      config: {
        address: '127.0.0.1:0',
        insecure_server: false,
        routes: [publicRoute('http://app.example.test', a.origin)],
      },
      env: { INSECURE_SERVER: 'true', SET_RESPONSE_HEADERS: '{"X-From-Env":"env-value"}' },
      t,
    });
    assert.equal(p.tls, false, 'INSECURE_SERVER=true from the environment must override the file');
    const res = await p.request('http://app.example.test/');
    assert.equal(res.status, 200);
    assert.equal(res.headers['x-from-env'], 'env-value', 'SET_RESPONSE_HEADERS given as a JSON object');
  });

  it('POLICY routes come before ROUTES routes (environment)', async (t) => {
    const p = await startPostern({
      config: { address: '127.0.0.1:0', insecure_server: true },
      env: {
        ROUTES: b64(toYaml([publicRoute('http://both.example.test', b.origin)])),
        POLICY: b64(toYaml([publicRoute('http://both.example.test', a.origin)])),
      },
      t,
    });
    const res = await p.request('http://both.example.test/');
    assert.equal(res.status, 200);
    assert.equal(res.json().name, 'a');
  });

  it('`policy:` routes come before `routes:` routes (file), whatever their order in the file', async (t) => {
    const p = await startPostern({
      config: {
        address: '127.0.0.1:0',
        insecure_server: true,
        routes: [publicRoute('http://both.example.test', b.origin), publicRoute('http://r.example.test', b.origin)],
        policy: [publicRoute('http://both.example.test', a.origin)],
      },
      t,
    });
    assert.equal((await p.request('http://both.example.test/')).json().name, 'a');
    assert.equal((await p.request('http://r.example.test/')).json().name, 'b');
  });

  it('accepts durations like 30s, 1m30s and 14h', async (t) => {
    const p = await startPostern({
      config: {
        address: '127.0.0.1:0',
        insecure_server: true,
        timeout_read: '1m30s',
        timeout_idle: '14h',
        default_upstream_timeout: '30s',
        routes: [publicRoute('http://app.example.test', a.origin, { timeout: '1m30s' })],
      },
      t,
    });
    assert.equal((await p.request('http://app.example.test/')).status, 200);
  });

  it('an unknown key is a warning naming it, and startup goes on', async (t) => {
    const p = await startPostern({
      config: { address: '127.0.0.1:0', insecure_server: true, no_such_option_xyz: 'x' },
      t,
    });
    const warn = p.logs().find((o) => /unknown config option/.test(JSON.stringify(o)) && /no_such_option_xyz/.test(JSON.stringify(o)));
    assert.ok(warn, `no "unknown config option … no_such_option_xyz" warning; stderr:\n${p.stderr}`);
    assert.match(String(warn.level), /warn/i);
    assert.equal((await p.request('http://x.example.test/ping')).status, 200);
  });

  it('a known but not yet implemented key is a "not supported yet: KEY" warning', async (t) => {
    const p = await startPostern({
      config: {
        address: '127.0.0.1:0',
        insecure_server: true,
        databroker_storage_cert_file: '/nonexistent.pem',
        routes: [publicRoute('http://app.example.test', a.origin, { circuit_breaker_thresholds: {} })],
      },
      t,
    });
    for (const key of ['databroker_storage_cert_file', 'circuit_breaker_thresholds']) {
      assert.ok(
        p.messages().some((m) => m.includes(`not supported yet: ${key}`)),
        `no "not supported yet: ${key}" warning; stderr:\n${p.stderr}`,
      );
    }
  });

  it('every stderr line is JSON with time, level and msg', async (t) => {
    const p = await startPostern({
      config: { address: '127.0.0.1:0', insecure_server: true, no_such_option_xyz: 1 },
      t,
    });
    await p.request('http://x.example.test/ping');
    for (const line of p.logs()) {
      assert.ok(!('raw' in line), `stderr line is not JSON: ${line.raw}`);
      for (const k of ['time', 'level', 'msg']) assert.ok(k in line, `stderr line lacks "${k}": ${JSON.stringify(line)}`);
    }
    assert.match(p.listenLine.address, /^127\.0\.0\.1:\d+$/);
    assert.equal(typeof p.listenLine.tls, 'boolean');
  });
});
