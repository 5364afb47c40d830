// Sign-in test harness: an Okta simulator (tests/okta-sim) as a child process, a Postern configured for it with an
// authenticate host (http://localhost:PORT) and route hosts (http://127.0.0.1:PORT) on one listener, and a small
// cookie-jar "browser" that follows redirects by hand, posts the simulator's sign-in form, and records every hop.
//
//   const env = await startSignInEnv({ server: 'org', routes: (up) => [ { from: 'http://127.0.0.1', to: up.origin,
//                                      allow_any_authenticated_user: true, pass_identity_headers: true } ] });
//   const b = new Browser();
//   const r = await signIn(b, `${env.route}/hello`, 'alice@example.com', 'alice-password');
//   r.res.status === 200; r.code; r.sessionEncrypted; b.cookie('127.0.0.1', '_pomerium')
//   await env.stop();
//
// Everything talks to 127.0.0.1 only: a URL on `localhost` is connected to 127.0.0.1 with `Host: localhost:PORT`.

import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { request } from './http.mjs';
import { startPostern, unusedPort } from './postern.mjs';
import { startUpstream } from './upstream.mjs';
import { trackChild, exitOf } from './proc.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
export const SIM_DIR = path.resolve(HERE, '../../okta-sim');
export const SIM_SERVER = path.join(SIM_DIR, 'server.mjs');
export const DEMO_SEED = path.join(SIM_DIR, 'seed', 'demo.json');

export const BROWSER_ACCEPT = 'text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8';
export const JSON_ACCEPT = 'application/json';

export const USERS = {
  alice: { login: 'alice@example.com', password: 'alice-password' },
  bob: { login: 'bob@example.com', password: 'bob-password' },
  carol: { login: 'carol@example.com', password: 'carol-password' },
};

/** base64 of 32 random bytes (shared_secret, cookie_secret). */
export const randomSecret = () => crypto.randomBytes(32).toString('base64');

// ---------------------------------------------------------------------------------------------------------------
// The simulator

/**
 * Start tests/okta-sim/server.mjs as a child process. Resolves { url, child, stop(), stderr(), ctl(method, path,
 * body) }.
 */
export async function startSim({ seed = DEMO_SEED, timeoutMs = 15_000 } = {}) {
  const args = [SIM_SERVER, '--port', '0', '--seed', seed, '--exit-with-stdin'];
  const child = trackChild(spawn(process.execPath, args, { stdio: ['pipe', 'pipe', 'pipe'] }));
  let stdout = '';
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  const m = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`okta-sim did not start in time; stderr:\n${stderr}`)), timeoutMs);
    child.stdout.on('data', (d) => {
      stdout += d;
      const mm = /^okta-sim listening on (http:\/\/\S+)\n/.exec(stdout);
      if (mm) {
        clearTimeout(timer);
        resolve(mm);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`okta-sim exited with ${code}; stderr:\n${stderr}`));
    });
  });
  const url = m[1];
  const sim = {
    url,
    child,
    stderr: () => stderr,
    stdout: () => stdout,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
      await exitOf(child);
      clearTimeout(timer);
    },
    /** Control API call (JSON); throws on non-2xx. */
    async ctl(method, p, body) {
      const res = await request({
        port: Number(new URL(url).port),
        path: `/__sim/${p}`,
        method,
        headers: body === undefined ? {} : { 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      let json;
      try {
        json = res.json();
      } catch {
        json = { raw: res.text };
      }
      if (res.status < 200 || res.status > 299) {
        throw new Error(`${method} /__sim/${p} -> ${res.status} ${res.text.slice(0, 500)}`);
      }
      return json;
    },
  };
  return sim;
}

/**
 * A recording HTTP proxy in front of the simulator, so a test sees every byte Postern and the browser exchange with
 * the IdP (codes, tokens). Start order: tap (port 0) → simulator with --public-url = tap → tap.target = sim port.
 * Resolves { port, origin, records: [{ method, path, reqHeaders, reqBody, status, resHeaders, resBody }], stop() }.
 */
export async function startTap() {
  const records = [];
  const tap = { records, target: null };
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', async () => {
      const reqBody = Buffer.concat(chunks);
      try {
        const headers = { ...req.headers };
        delete headers.connection;
        const r = await request({
          port: tap.target,
          path: req.url,
          method: req.method,
          headers,
          body: reqBody.length ? reqBody : undefined,
          setHost: false,
        });
        records.push({
          method: req.method,
          path: req.url,
          reqHeaders: req.headers,
          reqBody: reqBody.toString('utf8'),
          status: r.status,
          resHeaders: r.headers,
          resBody: r.text,
        });
        const raw = [];
        for (let i = 0; i < r.rawHeaders.length; i += 2) {
          const k = r.rawHeaders[i].toLowerCase();
          if (['connection', 'keep-alive', 'transfer-encoding', 'content-length'].includes(k)) continue;
          raw.push(r.rawHeaders[i], r.rawHeaders[i + 1]);
        }
        raw.push('Content-Length', String(r.body.length));
        res.writeHead(r.status, raw);
        res.end(r.body);
      } catch (err) {
        res.writeHead(502, { 'content-type': 'text/plain' });
        res.end(`tap: ${err.message}`);
      }
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  tap.port = server.address().port;
  tap.origin = `http://127.0.0.1:${tap.port}`;
  tap.stop = () =>
    new Promise((resolve) => {
      server.closeAllConnections?.();
      server.close(() => resolve());
    });
  return tap;
}

/** A simulator, optionally behind a tap. Resolves the sim object (with `.tap` when tapped). */
export async function startSimMaybeTapped({ tap = false } = {}) {
  if (!tap) return startSim();
  const t = await startTap();
  // the simulator prints its public URL (the tap), so it gets a known port to listen on
  const simPort = await unusedPort();
  const args = [SIM_SERVER, '--port', String(simPort), '--seed', DEMO_SEED, '--exit-with-stdin', '--public-url', t.origin];
  const child = trackChild(spawn(process.execPath, args, { stdio: ['pipe', 'pipe', 'pipe'] }));
  let stdout = '';
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  const failed = async (err) => {
    await t.stop();
    child.kill('SIGKILL');
    throw err;
  };
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`okta-sim did not start in time; stderr:\n${stderr}`)), 15_000);
    child.stdout.on('data', (d) => {
      stdout += d;
      if (/^okta-sim listening on /.test(stdout) && stdout.includes('\n')) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`okta-sim exited with ${code}; stderr:\n${stderr}`));
    });
  }).catch(failed);
  t.target = simPort;
  const sim = {
    url: t.origin,
    child,
    tap: t,
    stderr: () => stderr,
    stdout: () => stdout,
    async stop() {
      await t.stop();
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
      await exitOf(child);
      clearTimeout(timer);
    },
  };
  sim.ctl = async (method, p, body) => {
    const res = await request({
      port: simPort,
      path: `/__sim/${p}`,
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (res.status < 200 || res.status > 299) throw new Error(`${method} /__sim/${p} -> ${res.status} ${res.text.slice(0, 500)}`);
    return res.json();
  };
  return sim;
}

/** Register a fresh OIDC client for a Postern whose authenticate service is http://localhost:PORT. */
export async function registerClient(sim, port, { clientId, clientSecret, extra = {}, scheme = 'http' } = {}) {
  const client = {
    client_id: clientId ?? `postern-e2e-${crypto.randomBytes(6).toString('hex')}`,
    client_secret: clientSecret ?? `e2e-secret-${crypto.randomBytes(24).toString('base64url')}`,
    client_name: 'Postern e2e',
    application_type: 'web',
    redirect_uris: [`${scheme}://localhost:${port}/oauth2/callback`],
    post_logout_redirect_uris: [`${scheme}://localhost:${port}/.pomerium/signed_out`],
    grant_types: ['authorization_code', 'refresh_token'],
    token_endpoint_auth_method: 'client_secret_basic',
    pkce_required: true,
    refresh_token: { rotation_type: 'STATIC', leeway: 30 },
    groups_claim_filter: '.*',
    ...extra,
  };
  await sim.ctl('POST', 'clients', client);
  return client;
}

// ---------------------------------------------------------------------------------------------------------------
// Postern + simulator + upstream

/**
 * Start (or reuse) a simulator, an upstream, and a Postern for sign-in tests.
 *   server: 'org' | 'default' (which authorization server idp_provider_url names)
 *   provider: idp_provider ('okta')
 *   scopes: idp_scopes (array) or undefined (Postern's default)
 *   routes(up, env): the route list (up = the upstream); default: one route http://127.0.0.1 for any signed-in user
 *   config: extra global keys (override anything)
 *   sim: an existing simulator to share; otherwise one is started (and stopped by env.stop())
 *   up: an existing upstream to share
 *   tap: start the simulator behind a recording proxy (see startTap)
 *   idpUrl: override idp_provider_url (e.g. an unreachable one)
 *   beforeStart(env): runs after the client is registered and before Postern starts
 *   clientExtra: extra fields for the simulator's client registration (e.g. assigned_groups)
 *   https: { certFile, keyFile, caPem } (a makePki() server certificate + CA): Postern serves https, the
 *          authenticate service is https://localhost:PORT and the route host https://127.0.0.1:PORT
 * Resolves env: { sim, up, p, port, auth, route, client, issuer, sharedSecret, cookieSecret, config, ca, stop() }.
 */
export async function startSignInEnv({
  server = 'org',
  provider = 'okta',
  scopes,
  routes,
  config = {},
  sim,
  up,
  tap = false,
  idpUrl,
  beforeStart,
  clientExtra,
  https,
} = {}) {
  const ownSim = !sim;
  const ownUp = !up;
  const env = {};
  try {
    // settled one by one, so a failure of either still lets the catch below stop the other
    const started = await Promise.allSettled([sim ?? startSimMaybeTapped({ tap }), up ?? startUpstream({ name: 'signin' })]);
    if (started[0].status === 'fulfilled') sim = started[0].value;
    if (started[1].status === 'fulfilled') up = started[1].value;
    for (const r of started) if (r.status === 'rejected') throw r.reason;
    env.sim = sim;
    env.up = up;
    const port = await unusedPort();
    env.port = port;
    const scheme = https ? 'https' : 'http';
    env.auth = `${scheme}://localhost:${port}`;
    env.route = `${scheme}://127.0.0.1:${port}`;
    env.ca = https?.caPem;
    env.client = await registerClient(sim, port, { extra: clientExtra, scheme });
    env.issuer = server === 'org' ? sim.url : `${sim.url}/oauth2/default`;
    env.sharedSecret = randomSecret();
    env.cookieSecret = randomSecret();
    const routeList = routes
      ? routes(up, env)
      : [{ from: 'http://127.0.0.1', to: up.origin, allow_any_authenticated_user: true, pass_identity_headers: true }];
    env.config = {
      address: `127.0.0.1:${port}`,
      ...(https ? { certificate_file: https.certFile, certificate_key_file: https.keyFile } : { insecure_server: true }),
      authenticate_service_url: env.auth,
      idp_provider: provider,
      idp_provider_url: idpUrl ?? env.issuer,
      idp_client_id: env.client.client_id,
      idp_client_secret: env.client.client_secret,
      shared_secret: env.sharedSecret,
      cookie_secret: env.cookieSecret,
      ...(scopes ? { idp_scopes: scopes } : {}),
      ...config,
      routes: routeList,
    };
    if (beforeStart) await beforeStart(env);
    env.p = await startPostern({ config: env.config, ca: env.ca });
  } catch (err) {
    await env.p?.stop({ graceMs: 2000 });
    if (ownUp) await up?.stop();
    if (ownSim) await sim?.stop();
    throw err;
  }
  env.stop = async () => {
    const r = await env.p.stopAndCheck().catch((e) => e);
    if (ownUp) await up.stop();
    if (ownSim) await sim.stop();
    if (r instanceof Error) throw r;
  };
  return env;
}

// ---------------------------------------------------------------------------------------------------------------
// The browser

function parseSetCookie(line, reqUrl) {
  const [pair, ...attrParts] = line.split(';');
  const eq = pair.indexOf('=');
  const name = (eq < 0 ? '' : pair.slice(0, eq)).trim();
  const value = (eq < 0 ? pair : pair.slice(eq + 1)).trim();
  const attrs = {};
  for (const a of attrParts) {
    const i = a.indexOf('=');
    const k = (i < 0 ? a : a.slice(0, i)).trim().toLowerCase();
    const v = i < 0 ? '' : a.slice(i + 1).trim();
    if (k) attrs[k] = v;
  }
  const u = new URL(reqUrl);
  let expires = null;
  if ('max-age' in attrs && /^-?\d+$/.test(attrs['max-age'])) {
    expires = Date.now() + Number(attrs['max-age']) * 1000;
  } else if (attrs.expires) {
    const ms = Date.parse(attrs.expires);
    if (!Number.isNaN(ms)) expires = ms;
  }
  let cpath = attrs.path;
  if (!cpath || !cpath.startsWith('/')) {
    const dir = u.pathname.slice(0, u.pathname.lastIndexOf('/'));
    cpath = dir || '/';
  }
  const domain = attrs.domain ? attrs.domain.replace(/^\./, '').toLowerCase() : null;
  return {
    name,
    value,
    host: domain ?? u.hostname.toLowerCase(),
    hostOnly: !domain,
    path: cpath,
    expires,
    secure: 'secure' in attrs,
    httpOnly: 'httponly' in attrs,
    sameSite: attrs.samesite ?? null,
    attrs,
    raw: line,
  };
}

function domainMatch(cookie, hostname) {
  if (cookie.hostOnly) return cookie.host === hostname;
  return hostname === cookie.host || hostname.endsWith(`.${cookie.host}`);
}

function pathMatch(cookiePath, reqPath) {
  if (reqPath === cookiePath) return true;
  if (!reqPath.startsWith(cookiePath)) return false;
  return cookiePath.endsWith('/') || reqPath[cookiePath.length] === '/';
}

/**
 * A scripted browser: RFC 6265-ish cookie jar (host-only or domain cookies, path, expiry; ports ignored as browsers
 * do), manual redirects, a log of every hop: { method, url, status, location, setCookie: [raw lines], contentType }.
 */
export class Browser {
  /** accept: the Accept header of every request; ca: PEM trusted for https URLs. */
  constructor({ accept = BROWSER_ACCEPT, ca } = {}) {
    this.jar = [];
    this.hops = [];
    this.accept = accept;
    this.ca = ca;
  }

  /** A copy with the same cookies (and an empty hop log). */
  clone() {
    const b = new Browser({ accept: this.accept, ca: this.ca });
    b.jar = this.jar.map((c) => ({ ...c }));
    return b;
  }

  /** The value of cookie `name` for `hostname` (any path), or undefined. */
  cookie(hostname, name) {
    this.#expire();
    return this.jar.find((c) => c.name === name && domainMatch(c, hostname))?.value;
  }

  /** Every live cookie for `hostname`. */
  cookies(hostname) {
    this.#expire();
    return this.jar.filter((c) => domainMatch(c, hostname));
  }

  setCookie(hostname, name, value, cpath = '/') {
    this.jar = this.jar.filter((c) => !(c.name === name && c.host === hostname && c.path === cpath));
    this.jar.push({ name, value, host: hostname, hostOnly: true, path: cpath, expires: null, secure: false });
  }

  deleteCookie(hostname, name) {
    this.jar = this.jar.filter((c) => !(c.name === name && domainMatch(c, hostname)));
  }

  #expire() {
    const now = Date.now();
    this.jar = this.jar.filter((c) => c.expires === null || c.expires > now);
  }

  cookieHeader(url) {
    this.#expire();
    const u = new URL(url);
    const list = this.jar
      .filter((c) => domainMatch(c, u.hostname) && pathMatch(c.path, u.pathname) && (!c.secure || u.protocol === 'https:'))
      .sort((a, b) => b.path.length - a.path.length);
    return list.map((c) => `${c.name}=${c.value}`).join('; ');
  }

  #store(url, setCookies) {
    for (const line of setCookies) {
      const c = parseSetCookie(line, url);
      if (!c.name) continue;
      this.jar = this.jar.filter((x) => !(x.name === c.name && x.host === c.host && x.path === c.path));
      if (c.expires !== null && c.expires <= Date.now()) continue;
      this.jar.push(c);
    }
  }

  /**
   * One request (no redirect following). opts: method, headers (merged over Accept + Cookie), form (object → urlencoded
   * POST body), body, cookies (false = send none). Resolves the lib `request` result plus `url`, `location` (absolute).
   */
  async fetch(url, { method = 'GET', headers = {}, form, body, cookies = true } = {}) {
    const u = new URL(url);
    const h = { host: u.host, accept: this.accept, 'user-agent': 'postern-e2e-browser', ...headers };
    const ck = cookies ? this.cookieHeader(url) : '';
    if (ck && !Object.keys(h).some((k) => k.toLowerCase() === 'cookie')) h.cookie = ck;
    if (form) {
      h['content-type'] = 'application/x-www-form-urlencoded';
      body = new URLSearchParams(form).toString();
    }
    const res = await request({
      port: Number(u.port || (u.protocol === 'https:' ? 443 : 80)),
      host: '127.0.0.1',
      path: u.pathname + u.search,
      method,
      headers: h,
      body,
      tls: u.protocol === 'https:' ? { ca: this.ca, servername: /^[\d.]+$|^\[/.test(u.hostname) ? undefined : u.hostname } : false,
    });
    const setCookies = [].concat(res.headers['set-cookie'] ?? []);
    this.#store(url, setCookies);
    res.url = url;
    res.location = res.headers.location ? new URL(res.headers.location, url).href : undefined;
    res.setCookies = setCookies;
    this.hops.push({
      method,
      url,
      status: res.status,
      location: res.location,
      setCookie: setCookies,
      contentType: res.headers['content-type'],
    });
    return res;
  }

  /**
   * Request `url` and follow redirects (a POST answered by 301/302/303 continues as GET, as browsers do).
   * opts: method, form, headers (first request only), max (20), stop(urlObject) → true: do not request that URL.
   * Resolves { res (last response), url (its URL), stoppedAt (URL not requested, when `stop` said so), hops }.
   */
  async follow(url, { method = 'GET', form, headers, max = 20, stop } = {}) {
    const firstHop = this.hops.length;
    let res = await this.fetch(url, { method, form, headers });
    let current = url;
    for (let i = 0; i < max; i++) {
      if (!(res.status >= 300 && res.status < 400 && res.location)) {
        return { res, url: current, hops: this.hops.slice(firstHop) };
      }
      const next = res.location;
      if (stop && stop(new URL(next))) return { res, url: current, stoppedAt: next, hops: this.hops.slice(firstHop) };
      current = next;
      res = await this.fetch(current);
    }
    throw new Error(`too many redirects from ${url}:\n${this.hops.slice(firstHop).map(hopLine).join('\n')}`);
  }
}

export const hopLine = (h) => `${h.method} ${h.url} -> ${h.status}${h.location ? ` ${h.location}` : ''}`;

/** Human-readable redirect chain for assertion messages. */
export const describeHops = (hops) => hops.map(hopLine).join('\n');

const isSignInForm = (res) => res.status === 200 && /<form[^>]*id="okta-sign-in"/.test(res.text);

/**
 * The whole browser sign-in: GET startUrl, follow redirects, post the simulator's sign-in form (when it is shown: an
 * SSO session skips it), follow on. opts.stop(urlObject) stops before requesting a URL (e.g. the IdP's redirect back
 * to /oauth2/callback, to replay or tamper with it). Resolves:
 *   { res, url, stoppedAt, hops, formShown, callbackUrl (the /oauth2/callback URL the IdP sent the browser to),
 *     code, state, sessionEncrypted (pomerium_session_encrypted seen in any hop), routeCallbackUrl }
 */
export async function signIn(browser, startUrl, user, password, { stop, headers } = {}) {
  const firstHop = browser.hops.length;
  let r = await browser.follow(startUrl, { stop, headers });
  let formShown = false;
  if (!r.stoppedAt && isSignInForm(r.res)) {
    formShown = true;
    const action = /<form[^>]*method="post"[^>]*action="([^"]+)"/.exec(r.res.text)?.[1];
    if (!action) throw new Error(`no form action in the sign-in page:\n${r.res.text.slice(0, 2000)}`);
    const target = new URL(action.replace(/&amp;/g, '&'), r.url).href;
    r = await browser.follow(target, { method: 'POST', form: { username: user, password }, stop });
  }
  const hops = browser.hops.slice(firstHop);
  const urls = [...hops.map((h) => h.url), ...hops.map((h) => h.location).filter(Boolean)];
  const callbackUrl = urls.find((x) => new URL(x).pathname === '/oauth2/callback');
  const routeCallbackUrl = urls.find((x) => new URL(x).pathname === '/.pomerium/callback/' || new URL(x).pathname === '/.pomerium/callback');
  const cb = callbackUrl ? new URL(callbackUrl) : null;
  const enc = urls.map((x) => new URL(x).searchParams.get('pomerium_session_encrypted')).find(Boolean);
  return {
    res: r.res,
    url: r.url,
    stoppedAt: r.stoppedAt,
    hops,
    formShown,
    callbackUrl,
    routeCallbackUrl,
    code: cb?.searchParams.get('code') ?? undefined,
    state: cb?.searchParams.get('state') ?? undefined,
    sessionEncrypted: enc ?? undefined,
  };
}

/** Stop predicate: the IdP redirecting the browser back to Postern's /oauth2/callback. */
export const atOAuthCallback = (u) => u.pathname === '/oauth2/callback';

/** Decode a JWT's payload (no verification). */
export function decodeJwt(token) {
  return JSON.parse(Buffer.from(String(token).split('.')[1], 'base64url').toString('utf8'));
}

/** Decode a JWT's protected header. */
export function decodeJwtHeader(token) {
  return JSON.parse(Buffer.from(String(token).split('.')[0], 'base64url').toString('utf8'));
}

/** A one-shot local HTTP server (programmatic login redirect target); `next()` resolves the next request URL. */
export async function startLoopback() {
  const waiting = [];
  const seen = [];
  const server = http.createServer((req, res) => {
    const url = `http://127.0.0.1:${server.address().port}${req.url}`;
    seen.push(url);
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end('login complete, you can close this window\n');
    const w = waiting.shift();
    if (w) w(url);
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = server.address().port;
  return {
    port,
    origin: `http://127.0.0.1:${port}`,
    seen,
    next: () => (seen.length ? Promise.resolve(seen[0]) : new Promise((r) => waiting.push(r))),
    stop: () =>
      new Promise((resolve) => {
        server.closeAllConnections?.();
        server.close(() => resolve());
      }),
  };
}

/** Parse one Set-Cookie line: { name, value, path, expires (ms | null), secure, httpOnly, sameSite, attrs }. */
export function parseCookieLine(line, url = 'http://127.0.0.1/') {
  return parseSetCookie(line, url);
}

/** True when `res` sets cookie `name` to a live (non-empty, unexpired) value. */
export function setsCookie(res, name) {
  return (res.setCookies ?? [].concat(res.headers['set-cookie'] ?? [])).some((line) => {
    const c = parseSetCookie(line, res.url ?? 'http://127.0.0.1/');
    return c.name === name && c.value !== '' && (c.expires === null || c.expires > Date.now());
  });
}

/** The sign-in flow cookies (`_pomerium_csrf_<id>`, one per sign-in in progress) a browser holds for `host`. */
export function flowCookies(browser, host = 'localhost') {
  return browser.cookies(host).filter((c) => c.name.startsWith('_pomerium_csrf_'));
}

/** True when `res` sets a sign-in flow cookie (`_pomerium_csrf_<id>`). */
export function setsFlowCookie(res) {
  return (res.setCookies ?? [].concat(res.headers['set-cookie'] ?? [])).some((line) => /^_pomerium_csrf_[A-Za-z0-9_-]{16}=[^;]+/.test(line));
}

/** True when `res` deletes cookie `name` (Max-Age ≤ 0 or an Expires in the past). */
export function clearsCookie(res, name) {
  return (res.setCookies ?? [].concat(res.headers['set-cookie'] ?? [])).some((line) => {
    const c = parseSetCookie(line, res.url ?? 'http://127.0.0.1/');
    return c.name === name && c.expires !== null && c.expires <= Date.now();
  });
}

/** Change one character in the middle of `value` (an alphanumeric one, to another alphanumeric one). */
export function flipChar(value) {
  let i = Math.floor(value.length / 2);
  while (i < value.length && !/[A-Za-z0-9]/.test(value[i])) i++;
  if (i >= value.length) i = 0;
  const c = value[i];
  const r = c === 'A' ? 'B' : c === 'a' ? 'b' : c === '0' ? '1' : /[A-Z]/.test(c) ? 'A' : /[a-z]/.test(c) ? 'a' : '0';
  return value.slice(0, i) + r + value.slice(i + 1);
}

/** A user as the simulator's Management API shows it ({ id: '00u…', profile: { login, email, firstName, … } }). */
export function simUser(sim, login) {
  return sim.ctl('GET', `users/${encodeURIComponent(login)}`);
}

/** The upstream's JSON echo from a response (throws with the body when it is not JSON). */
export function echoOf(res) {
  try {
    return JSON.parse(res.text);
  } catch {
    throw new Error(`expected the upstream's JSON echo, got ${res.status} ${res.headers['content-type']}:\n${res.text.slice(0, 800)}`);
  }
}

/** A header of the upstream echo (first value when repeated). */
export function echoHeader(echo, name) {
  const v = echo.headers[name.toLowerCase()];
  return Array.isArray(v) ? v[0] : v;
}

/** A link back to sign-in on an error page: an <a href> whose href names sign_in or whose text says sign in. */
export function hasSignInAgainLink(html) {
  for (const m of html.matchAll(/<a\b[^>]*\bhref\s*=\s*["']([^"']+)["'][^>]*>([\s\S]*?)<\/a>/gi)) {
    const href = m[1];
    const text = m[2].replace(/<[^>]+>/g, ' ');
    if (/sign_in|login/i.test(href) || /sign[\s-]*in|log[\s-]*in/i.test(text)) return true;
  }
  return false;
}

/** The IdP's discovery document for env.issuer (fetched from the simulator directly). */
export async function idpDiscovery(env) {
  const u = new URL(`${env.issuer}/.well-known/openid-configuration`);
  const res = await request({ port: Number(u.port), path: u.pathname, headers: { host: u.host, accept: 'application/json' } });
  if (res.status !== 200) throw new Error(`discovery ${u}: ${res.status}`);
  return JSON.parse(res.text);
}

/** Run every cleanup (skipping undefined ones) even when some fail; then throw the first failure. */
export async function stopAll(...fns) {
  let first;
  for (const f of fns) {
    if (!f) continue;
    try {
      await f();
    } catch (err) {
      first ??= err;
    }
  }
  if (first) throw first;
}
