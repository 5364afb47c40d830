// Start the real `postern` binary for a test (STYLE.md, "Integration tests that run the real binary").
//
//   const p = await startPostern({ config: { address: '127.0.0.1:0', insecure_server: true, routes: [...] }, t });
//   const res = await p.request('http://app.example.test/path');   // connects to p.port, Host: app.example.test
//   await p.waitForAccessLog((l) => l.request_id === res.headers['x-request-id']);
//
// `config` is an object (written as block YAML) or a raw YAML string; it goes to a fresh temp dir as
// config.yaml and Postern runs as `postern --config FILE [...args]` (`argv` replaces the whole argument list;
// the string `{config}` in it is replaced by the file's path). The binary is $POSTERN_BIN or build/postern.
// The environment is minimal (PATH, HOME, ...) plus `env`, so nothing from the caller's shell becomes config.
// Ready = a JSON line on stderr with "msg":"listening" and "address":"127.0.0.1:PORT". If the process exits
// first, the promise rejects with its stderr. `stop()` sends SIGTERM, then SIGKILL after `graceMs` (10 s).
// Pass `t` (a test context or anything with `after`) to stop it automatically; the automatic stop throws when
// the process had died on its own before it (a crash the test should hear about).

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import { toYaml } from './yaml.mjs';
import { request } from './http.mjs';
import { trackChild, registerCleanupDir, baseEnv, exitOf } from './proc.mjs';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
export const POSTERN_BIN = process.env.POSTERN_BIN || path.join(REPO_ROOT, 'build/postern');

export function binaryExists() {
  try {
    fs.accessSync(POSTERN_BIN, fs.constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function checkBinary() {
  if (!binaryExists()) {
    throw new Error(`postern binary not found or not executable at ${POSTERN_BIN} (build it, or set POSTERN_BIN)`);
  }
}

/** Write a config (object or YAML text) into a fresh temp dir; returns { dir, file, text }. */
export function writeConfig(config, { name = 'config.yaml', dir } = {}) {
  if (!dir) {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'postern-e2e-'));
    registerCleanupDir(dir);
  }
  const file = path.join(dir, name);
  const text = typeof config === 'string' ? config : toYaml(config);
  fs.writeFileSync(file, text);
  return { dir, file, text };
}

/** Decode log text into messages: a JSON line gives its object, anything else { raw: line }. */
export function parseLines(text) {
  return text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => {
      try {
        const o = JSON.parse(l);
        return o && typeof o === 'object' ? o : { raw: l };
      } catch {
        return { raw: l };
      }
    });
}

/** The human-readable text of each stderr line: the `msg` of a JSON line (plus its `error`), else the raw line. */
export function messages(text) {
  return parseLines(text).map((o) => {
    if ('raw' in o) return o.raw;
    return [o.msg, o.error, o.message].filter((x) => typeof x === 'string').join(' ');
  });
}

function buildArgv({ argv, args = [], file }) {
  if (argv) return argv.map((a) => (file ? a.replaceAll('{config}', file) : a));
  return [...(file ? ['--config', file] : []), ...args];
}

/**
 * Run postern to completion (CLI checks, config errors). Resolves
 * { code, signal, stdout, stderr, messages, configFile, timedOut }.
 */
export async function runPostern({ config, env = {}, args, argv, timeoutMs = 10_000, configName } = {}) {
  checkBinary();
  const cfg = config !== undefined ? writeConfig(config, { name: configName }) : null;
  const child = trackChild(
    spawn(POSTERN_BIN, buildArgv({ argv, args, file: cfg?.file }), {
      env: { ...baseEnv(), ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    }),
  );
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    child.kill('SIGKILL');
  }, timeoutMs);
  const spawnError = new Promise((_, reject) => child.once('error', reject));
  const { code, signal } = await Promise.race([exitOf(child), spawnError]);
  clearTimeout(timer);
  return { code, signal, stdout, stderr, messages: messages(stderr), configFile: cfg?.file, timedOut };
}

export class Postern {
  constructor(child, { configFile, dir, ca }) {
    this.child = child;
    this.pid = child.pid;
    this.configFile = configFile;
    this.dir = dir;
    this.ca = ca;
    this.stdoutText = '';
    this.stderrText = '';
    this.stopping = false;
    this.exitInfo = null;
    this.exited = exitOf(child).then((info) => {
      this.exitInfo = info;
      return info;
    });
    child.stdout.on('data', (d) => {
      this.stdoutText += d;
      this.#wake();
    });
    child.stderr.on('data', (d) => {
      this.stderrText += d;
      this.#wake();
    });
    this.waiters = new Set();
  }

  #wake() {
    for (const w of [...this.waiters]) w();
  }

  /** Wait until `check()` returns a truthy value (re-checked on each output chunk); rejects on timeout. */
  async waitFor(check, { timeoutMs = 5000, what = 'condition' } = {}) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const v = check();
      if (v) return v;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
      await new Promise((resolve) => {
        const done = () => {
          clearTimeout(timer);
          this.waiters.delete(done);
          resolve();
        };
        const timer = setTimeout(done, Math.min(left, 100));
        this.waiters.add(done);
      });
    }
  }

  get stdout() {
    return this.stdoutText;
  }

  get stderr() {
    return this.stderrText;
  }

  /** Access-log lines (stdout) that parsed as JSON. */
  accessLog() {
    return parseLines(this.stdoutText).filter((o) => !('raw' in o) && o.msg !== 'authorize check');
  }

  /** `authorize check` lines (stdout): one per policy decision. */
  authorizeLog() {
    return parseLines(this.stdoutText).filter((o) => o.msg === 'authorize check');
  }

  /** Log lines (stderr), JSON objects or { raw }. */
  logs() {
    return parseLines(this.stderrText);
  }

  messages() {
    return messages(this.stderrText);
  }

  waitForAccessLog(pred, { timeoutMs = 3000 } = {}) {
    return this.waitFor(() => this.accessLog().find(pred), { timeoutMs, what: 'an access-log line' });
  }

  waitForLog(pred, { timeoutMs = 3000 } = {}) {
    return this.waitFor(() => this.logs().find(pred), { timeoutMs, what: 'a log line' });
  }

  /**
   * Request `target` (a URL whose host becomes the Host header and whose scheme picks TLS) through Postern.
   * opts: method, headers (a `host` header here wins), body, agent, timeoutMs, ca (default: the pki CA given to
   * startPostern), servername (default: the URL's host name unless it is an IP), tls (extra tls options).
   */
  request(target, opts = {}) {
    const u = new URL(target, 'http://app.example.test');
    const headers = { ...(opts.headers || {}) };
    if (!Object.keys(headers).some((k) => k.toLowerCase() === 'host')) headers.host = u.host;
    let tlsOpts = false;
    if (u.protocol === 'https:') {
      tlsOpts = {
        ca: opts.ca ?? this.ca,
        servername: opts.servername ?? (net.isIP(u.hostname) ? undefined : u.hostname),
        ...(opts.tls || {}),
      };
    }
    return request({
      port: this.port,
      path: u.pathname + u.search,
      method: opts.method,
      headers,
      body: opts.body,
      agent: opts.agent ?? false,
      timeoutMs: opts.timeoutMs,
      tls: tlsOpts,
    });
  }

  /** SIGTERM, then SIGKILL after graceMs. Resolves { code, signal, forced, ms, diedEarly }. */
  async stop({ graceMs = 10_000 } = {}) {
    if (this.stopResult) return this.stopResult;
    const diedEarly = this.exitInfo !== null && !this.stopping;
    this.stopping = true;
    const started = Date.now();
    let forced = false;
    if (this.exitInfo === null) {
      this.child.kill('SIGTERM');
      const timer = setTimeout(() => {
        forced = true;
        this.child.kill('SIGKILL');
      }, graceMs);
      await this.exited;
      clearTimeout(timer);
    }
    const { code, signal } = await this.exited;
    this.stopResult = { code, signal, forced, ms: Date.now() - started, diedEarly };
    return this.stopResult;
  }

  /** stop(), and throw if the process had died by itself before (used by the automatic cleanup). */
  async stopAndCheck() {
    const r = await this.stop();
    if (r.diedEarly) {
      throw new Error(
        `postern (pid ${this.pid}) died during the test: code ${r.code} signal ${r.signal}\n` +
          `stderr (tail):\n${this.stderrText.slice(-4000)}`,
      );
    }
    return r;
  }
}

/**
 * Start postern and resolve when it is listening.
 *   config (object | YAML string | undefined = no --config), env, args (appended after --config FILE),
 *   argv (replaces all arguments; `{config}` → the config path), t (registers cleanup with t.after),
 *   ca (PEM trusted by p.request for https URLs), readyTimeoutMs (15000)
 */
export async function startPostern({ config, env = {}, args = [], argv, t, ca, readyTimeoutMs = 15_000 } = {}) {
  checkBinary();
  const cfg = config !== undefined ? writeConfig(config) : null;
  const child = trackChild(
    spawn(POSTERN_BIN, buildArgv({ argv, args, file: cfg?.file }), {
      env: { ...baseEnv(), ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    }),
  );
  const p = new Postern(child, { configFile: cfg?.file, dir: cfg?.dir, ca });
  if (t) t.after(() => p.stopAndCheck());
  const spawnError = new Promise((_, reject) => child.once('error', reject));
  const listening = () => p.logs().find((o) => o.msg === 'listening' && typeof o.address === 'string');
  try {
    const line = await Promise.race([
      p.waitFor(() => listening() || p.exitInfo, { timeoutMs: readyTimeoutMs, what: 'the "listening" log line' }),
      spawnError,
    ]);
    if (line === p.exitInfo) {
      p.stopping = true; // reported here; the automatic cleanup need not report it again
      throw new Error(
        `postern exited (code ${p.exitInfo.code}, signal ${p.exitInfo.signal}) before listening\n` +
          `config:\n${cfg?.text ?? '(none)'}\nstderr:\n${p.stderrText}`,
      );
    }
    p.listenLine = line;
    p.address = line.address;
    p.port = Number(line.address.slice(line.address.lastIndexOf(':') + 1));
    p.tls = line.tls === true;
    return p;
  } catch (err) {
    if (!t) await p.stop({ graceMs: 2000 });
    if (!/before listening/.test(err.message)) {
      err.message += `\nstderr so far:\n${p.stderrText.slice(-4000)}`;
    }
    throw err;
  }
}

/** A TCP port on 127.0.0.1 that nothing listens on (bound then released). */
export function unusedPort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** A route that anyone may use (the foundation has no sign-in yet). */
export function publicRoute(from, to, extra = {}) {
  return { from, to, allow_public_unauthenticated_access: true, ...extra };
}
