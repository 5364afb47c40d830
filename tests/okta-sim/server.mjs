#!/usr/bin/env node
// okta-sim: a local Okta simulator for Postern's tests.
//
//   node tests/okta-sim/server.mjs --port 0 --seed tests/okta-sim/seed/demo.json \
//        [--host 127.0.0.1] [--url-file PATH] [--public-url URL] [--exit-with-stdin]
//        [--generate users=N,groups=M,groups_per_user=K]
//
// Prints exactly one line on stdout once it accepts connections:
//   okta-sim listening on http://127.0.0.1:PORT
// (everything else goes to stderr), and writes the same URL to --url-file.
// --exit-with-stdin makes it exit when its stdin closes, so a test runner that
// dies cannot leave it behind.
//
// This file wires the pieces together: one Node http server, every request body
// read once (capped at 1 MiB), then in order: the control API (/__sim/), fault
// injection and rate limiting, the Management API (/api/v1/), the sign-in page
// (/signin/), and the two authorization servers (/.well-known/, /oauth2/).

import { createServer } from 'node:http';
import { writeFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';

import * as clock from './clock.mjs';
import { Directory } from './directory.mjs';
import { SystemLog, makeSystemActor } from './system-log.mjs';
import { RateLimiter } from './rate-limit.mjs';
import { KeySet } from './keys.mjs';
import { OidcLayer, SERVER_NAMES } from './oidc.mjs';
import { ManagementApi } from './management-api.mjs';
import { LoginPage } from './login-page.mjs';
import { ControlApi } from './control-api.mjs';
import { loadSeedFile, makeSettings, normalizeClient } from './seed.mjs';
import { generateOrg, parseGenerateFlag, checkGenerateSpec } from './generate.mjs';
import { oktaId, requestId } from './ids.mjs';
import {
  readBody, HttpError, sendJson, sendHtml, page, escapeHtml, oktaErrorBody, requestContext,
} from './http-util.mjs';

const MAX_CALL_LOG = 100_000;

export class Simulator {
  // seed: a parsed seed object. host/port: where to listen. publicUrl: the
  // base URL to advertise instead of http://host:port (e.g. behind TLS).
  constructor({ seed = {}, host = '127.0.0.1', port = 0, publicUrl = undefined } = {}) {
    this.seed = seed;
    this.host = host;
    this.port = port;
    this.publicUrl = publicUrl?.replace(/\/+$/, '');
    this.calls = [];
    this.rateLimiter = new RateLimiter();
    this.control = new ControlApi(this);
  }

  async start() {
    clock.install();
    // The port is bound first (the issuer URL needs it), but no request is answered before the keys and the seeded
    // state exist: early requests wait for them instead of meeting a half-built simulator.
    let ready;
    this.ready = new Promise((resolve) => { ready = resolve; });
    this.server = createServer((req, res) => {
      const serve = this.isReady ? this.#onRequest(req, res) : this.ready.then(() => this.#onRequest(req, res));
      serve.catch((err) => {
        console.error('okta-sim: unhandled error', err);
        if (!res.headersSent) sendJson(res, 500, oktaErrorBody('E0000009', 'Internal Server Error'));
        else res.destroy();
      });
    });
    this.server.keepAliveTimeout = 5000;
    this.server.headersTimeout = 10_000;
    this.server.requestTimeout = 30_000;
    await new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.port, this.host, resolve);
    });
    const { port } = this.server.address();
    const host = this.host === '0.0.0.0' || this.host === '::' ? '127.0.0.1' : this.host;
    this.baseUrl = this.publicUrl ?? `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
    this.keys = {};
    for (const n of SERVER_NAMES) this.keys[n] = await KeySet.create();
    await this.#loadState();
    this.isReady = true;
    ready();
    return this.baseUrl;
  }

  // (Re)creates all mutable state from the seed. Keys survive unless asked.
  async #loadState() {
    const seed = this.seed;
    this.org = { id: seed.org?.id ?? oktaId('00o'), name: seed.org?.name ?? 'okta-sim' };
    this.settings = makeSettings(seed.settings ?? {});
    this.systemActor = makeSystemActor();
    this.directory = new Directory();
    this.systemLog = new SystemLog({ systemActor: this.systemActor });
    this.systemLog.attach(this.directory);

    this.clients = new Map();
    for (const c of seed.clients ?? []) this.#addClient(normalizeClient(c));
    for (const c of seed.service_apps ?? []) this.#addClient(normalizeClient(c, { service: true }));

    this.apiTokens = new Map();
    for (const t of seed.api_tokens ?? []) {
      if (typeof t.token !== 'string' || t.token.length < 8) throw new Error('api_tokens[].token must be a string of 8+ characters');
      this.apiTokens.set(t.token, { name: t.name ?? 'seed token', created: Date.now(), lastUsed: undefined, revoked: false });
    }

    this.oidc?.reset();
    this.oidc ??= new OidcLayer(this);
    this.oidc.sim = this;
    this.mgmt = new ManagementApi(this, this.oidc);
    this.login = new LoginPage(this, this.oidc);

    // lifecycle changes revoke Okta-side tokens and sessions
    this.directory.events.on('user.lifecycle.deactivate', ({ user }) => this.oidc.revokeUser(user.id));
    this.directory.events.on('user.lifecycle.suspend', ({ user }) => this.oidc.revokeUser(user.id));
    this.directory.events.on('user.account.lock', ({ user }) => this.oidc.clearSessions(user.id));
    this.directory.events.on('user.session.clear', ({ user, oauthTokens }) => this.oidc.clearSessions(user.id, { oauthTokens }));

    for (const u of seed.users ?? []) this.directory.addUser(u);
    for (const g of seed.groups ?? []) this.directory.addGroup(g);
    if (seed.generate) generateOrg(this.directory, seed.generate);
    this.systemLog.clear(); // the seed is the starting point, not history

    await this.oidc.build();
    this.rateLimiter.reset();
    if (seed.settings?.rate_limits) {
      for (const [bucket, limit] of Object.entries(seed.settings.rate_limits)) this.rateLimiter.setLimit(limit, bucket);
    }
  }

  #addClient(c) {
    if (this.clients.has(c.client_id)) throw new Error(`duplicate client_id ${c.client_id}`);
    this.clients.set(c.client_id, c);
  }

  async reset({ keys = false } = {}) {
    clock.resetClock();
    if (keys) for (const n of SERVER_NAMES) this.keys[n] = await KeySet.create();
    this.calls.length = 0;
    await this.#loadState();
  }

  async close() {
    if (!this.server) return;
    await new Promise((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections?.();
    });
  }

  async #onRequest(req, res) {
    const rid = requestId();
    res.setHeader('X-Okta-Request-Id', rid);
    res.setHeader('Date', clock.httpDate());
    let url;
    try {
      url = new URL(req.url, this.baseUrl);
    } catch {
      return sendJson(res, 400, { error: 'bad request URL' });
    }
    const ctx = {
      requestId: rid,
      ip: req.socket.remoteAddress?.replace(/^::ffff:/, ''),
      userAgent: req.headers['user-agent'],
      path: url.pathname,
    };
    return requestContext.run(ctx, () => this.#serve(req, res, url));
  }

  async #serve(req, res, url) {
    const path = url.pathname;
    const isControl = path === '/__sim' || path.startsWith('/__sim/');
    let entry = null;
    if (!isControl) {
      entry = {
        time: clock.iso(), method: req.method, path: path + url.search, status: 0,
      };
      res.on('finish', () => {
        entry.status = res.statusCode;
        if (this.calls.length >= MAX_CALL_LOG) this.calls.shift();
        this.calls.push(entry);
      });
    }

    let body;
    try {
      body = await readBody(req);
    } catch (err) {
      if (err instanceof HttpError) return sendJson(res, err.status, oktaErrorBody('E0000003', 'The request body was not well-formed.', [err.message]));
      throw err;
    }

    if (isControl) return this.control.handle(req, res, url, body);
    // Token calls are logged with their grant, so tests can count refreshes (never the tokens themselves).
    if (req.method === 'POST' && /\/v1\/token$/.test(path)) {
      const grant = new URLSearchParams(body?.toString?.() ?? '').get('grant_type');
      if (grant && entry) entry.grant_type = grant;
    }

    const fault = this.rateLimiter.takeFault(req.method, path);
    if (fault) {
      if (fault.status === 429) {
        const h = fault.concurrency ? RateLimiter.concurrencyHeaders() : { limit: this.rateLimiter.bucketFor(path)?.limit ?? 600, remaining: 0, reset: clock.nowSec() + 60 };
        this.#setRateHeaders(res, h);
        return sendJson(res, 429, oktaErrorBody('E0000047', 'API call exceeded rate limit due to too many requests.'));
      }
      return sendJson(res, fault.status, oktaErrorBody('E0000009', 'Internal Server Error'));
    }

    const admitted = this.rateLimiter.admit(path);
    if (admitted) {
      this.#setRateHeaders(res, admitted.headers);
      if (admitted.limited) {
        return sendJson(res, 429, oktaErrorBody('E0000047', 'API call exceeded rate limit due to too many requests.'));
      }
    }

    if (await this.mgmt.handle(req, res, url)) return undefined;
    if (await this.login.handle(req, res, url, body)) return undefined;
    if (await this.oidc.handle(req, res, url, body)) return undefined;
    if (path === '/' && (req.method === 'GET' || req.method === 'HEAD')) return this.#home(res);
    if (path.startsWith('/api/')) return sendJson(res, 404, oktaErrorBody('E0000007', `Not found: Resource not found: ${path}`));
    return sendHtml(res, 404, page('Not found', '<h1>404 Not Found</h1>'));
  }

  #setRateHeaders(res, { limit, remaining, reset }) {
    const twice = this.settings.duplicate_rate_limit_headers;
    const v = (x) => (twice ? [String(x), String(x)] : String(x));
    res.setHeader('X-Rate-Limit-Limit', v(limit));
    res.setHeader('X-Rate-Limit-Remaining', v(remaining));
    res.setHeader('X-Rate-Limit-Reset', v(reset));
  }

  #home(res) {
    const b = this.baseUrl;
    const row = (label, href) => `<tr><td>${escapeHtml(label)}</td><td><code>${escapeHtml(href)}</code></td></tr>`;
    sendHtml(res, 200, page('okta-sim', `<h1>okta-sim</h1><table>
${row('Org issuer', b)}
${row('Org discovery', `${b}/.well-known/openid-configuration`)}
${row('Custom issuer', `${b}/oauth2/default`)}
${row('Custom discovery', `${b}/oauth2/default/.well-known/openid-configuration`)}
${row('Management API', `${b}/api/v1/`)}
${row('Control API', `${b}/__sim/state`)}
</table>`));
  }
}

// Convenience for in-process use: starts a simulator from a seed path or object.
// Note that the clock shim (clock.mjs) then applies to the whole process.
export async function startOktaSim({ seedPath, seed, host, port, publicUrl, generate } = {}) {
  const base = seed ?? (seedPath ? loadSeedFile(seedPath) : {});
  const sim = new Simulator({ seed: generate ? { ...base, generate } : base, host, port, publicUrl });
  await sim.start();
  return sim;
}

function parseArgs(argv) {
  const opts = { host: '127.0.0.1', port: 0 };
  const need = (i, flag) => {
    if (i + 1 >= argv.length) throw new Error(`${flag} needs a value`);
    return argv[i + 1];
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const [flag, inline] = a.includes('=') ? [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)] : [a, undefined];
    const value = () => {
      if (inline !== undefined) return inline;
      const v = need(i, flag);
      i += 1;
      return v;
    };
    switch (flag) {
      case '--port': opts.port = Number(value()); break;
      case '--host': opts.host = value(); break;
      case '--seed': opts.seedPath = value(); break;
      case '--url-file': opts.urlFile = value(); break;
      case '--public-url': opts.publicUrl = value(); break;
      case '--exit-with-stdin': opts.exitWithStdin = true; break;
      case '--generate': opts.generate = checkGenerateSpec(parseGenerateFlag(value())); break;
      case '--help': case '-h': opts.help = true; break;
      default: throw new Error(`unknown argument ${a}`);
    }
  }
  if (!Number.isInteger(opts.port) || opts.port < 0 || opts.port > 65535) throw new Error('--port must be 0..65535');
  return opts;
}

async function main() {
  // stdout carries exactly one line; route library chatter to stderr
  console.log = console.error;
  console.info = console.error;
  let opts;
  try {
    opts = parseArgs(process.argv.slice(2));
  } catch (err) {
    console.error(`okta-sim: ${err.message}`);
    process.exit(2);
  }
  if (opts.help) {
    console.error('usage: node tests/okta-sim/server.mjs [--port 0] [--host 127.0.0.1] [--seed FILE] [--url-file PATH] [--public-url URL] [--exit-with-stdin] [--generate users=N,groups=M,groups_per_user=K]');
    process.exit(0);
  }
  const sim = await startOktaSim(opts);
  if (opts.urlFile) writeFileSync(opts.urlFile, `${sim.baseUrl}\n`);
  process.stdout.write(`okta-sim listening on ${sim.baseUrl}\n`);

  const stop = async () => {
    await sim.close();
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  if (opts.exitWithStdin) {
    process.stdin.on('end', stop);
    process.stdin.on('close', stop);
    process.stdin.resume();
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err) => {
    console.error('okta-sim: failed to start:', err);
    process.exit(1);
  });
}
