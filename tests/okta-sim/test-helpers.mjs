// Helpers for tests that use the simulator (its own suite in test/, and any
// other suite): start it as a child process, talk to its control API, and drive
// the sign-in page like a browser (cookie jar + manual redirects) with fetch.
// Kept outside test/ because `node --test DIR` runs every file under test/.

import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import * as client from 'openid-client';

export const SIM_DIR = dirname(fileURLToPath(import.meta.url));
export const DEMO_SEED = join(SIM_DIR, 'seed', 'demo.json');
export const DEMO = JSON.parse(readFileSync(DEMO_SEED, 'utf8'));
export const DEMO_CLIENT = DEMO.clients[0];
export const SSWS = DEMO.api_tokens[0].token;
export const CALLBACK = DEMO_CLIENT.redirect_uris[0];
export const SERVICE_APP = DEMO.service_apps[0];
export const SERVICE_APP_PRIVATE_JWK = JSON.parse(readFileSync(join(SIM_DIR, 'seed', 'demo-service-app.private.jwk.json'), 'utf8'));

// Starts `server.mjs --port 0` and resolves once it printed its URL. The child
// exits when our stdin pipe closes (--exit-with-stdin), so a crashed test run
// leaves nothing behind; stop() ends it explicitly.
export async function startSim({ seed = DEMO_SEED, args = [] } = {}) {
  const child = spawn(process.execPath, [join(SIM_DIR, 'server.mjs'), '--port', '0', '--seed', seed, '--exit-with-stdin', ...args], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d) => { stderr += d; });
  let stdout = '';
  const url = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`okta-sim did not start in time; stderr:\n${stderr}`)), 15_000);
    child.stdout.on('data', (d) => {
      stdout += d;
      const m = /^okta-sim listening on (http:\/\/\S+)\n/.exec(stdout);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`okta-sim exited with ${code}; stderr:\n${stderr}`));
    });
  });
  return {
    url,
    child,
    stdout: () => stdout,
    stderr: () => stderr,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      await once(child, 'exit');
    },
  };
}

// Calls the control API; throws on non-2xx.
export async function ctl(base, method, path, body = undefined) {
  const res = await fetch(`${base}/__sim/${path}`, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const json = await res.json();
  if (!res.ok) throw new Error(`${method} /__sim/${path} -> ${res.status} ${JSON.stringify(json)}`);
  return json;
}

export async function api(base, path, { token = SSWS, auth = undefined, method = 'GET' } = {}) {
  return fetch(new URL(path, base), {
    method,
    headers: { authorization: auth ?? `SSWS ${token}`, accept: 'application/json' },
  });
}

// Parses all Link header values (repeated or comma-joined) into { rel: url }.
export function links(res) {
  const out = {};
  const raw = res.headers.get('link') ?? '';
  for (const m of raw.matchAll(/<([^>]+)>\s*;\s*rel="([^"]+)"/g)) out[m[2]] = m[1];
  return out;
}

// A minimal browser: a cookie jar keyed by name (single host) and manual
// redirect following.
export class Browser {
  constructor() {
    this.cookies = new Map();
  }

  #store(res) {
    for (const line of res.headers.getSetCookie()) {
      const [pair, ...attrs] = line.split(';');
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      const expired = attrs.some((a) => /expires=Thu, 01 Jan 1970/i.test(a)) || value === '';
      if (expired) this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
  }

  async fetch(url, { method = 'GET', form = undefined } = {}) {
    const headers = { accept: 'text/html' };
    if (this.cookies.size) headers.cookie = [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
    let body;
    if (form) {
      headers['content-type'] = 'application/x-www-form-urlencoded';
      body = new URLSearchParams(form).toString();
    }
    const res = await fetch(url, { method, headers, body, redirect: 'manual' });
    this.#store(res);
    return res;
  }

  // Follows redirects from `url` until one leaves the simulator (`origin`);
  // returns { url, res } of the first response that does not redirect within
  // the simulator, or the external Location.
  async follow(url, origin, { method = 'GET', form = undefined, max = 10 } = {}) {
    let res = await this.fetch(url, { method, form });
    let current = url;
    for (let i = 0; i < max; i++) {
      const loc = res.headers.get('location');
      if (!(res.status >= 300 && res.status < 400 && loc)) return { url: current, res };
      const next = new URL(loc, current).href;
      if (!next.startsWith(origin)) return { url: next, res, external: true };
      await res.arrayBuffer();
      current = next;
      res = await this.fetch(current);
    }
    throw new Error('too many redirects');
  }

  // Runs authorize -> sign-in form -> back to the app. Returns the callback URL
  // (a URL object) the simulator redirected to.
  async signIn(authorizeUrl, origin, username, password) {
    const first = await this.follow(authorizeUrl, origin);
    if (first.external) return new URL(first.url); // SSO session: no form
    if (first.res.status !== 200) throw new Error(`expected the sign-in form, got ${first.res.status}: ${await first.res.text()}`);
    const html = await first.res.text();
    const action = /<form method="post" action="([^"]+)"/.exec(html)?.[1];
    if (!action) throw new Error(`no sign-in form in:\n${html}`);
    const done = await this.follow(new URL(action.replace(/&amp;/g, '&'), first.url).href, origin, {
      method: 'POST', form: { username, password },
    });
    if (!done.external) throw new Error(`sign-in did not return to the app: ${done.res.status} ${await done.res.text()}`);
    return new URL(done.url);
  }
}

export async function discover(issuer, { clientId = DEMO_CLIENT.client_id, secret = DEMO_CLIENT.client_secret, auth } = {}) {
  return client.discovery(new URL(issuer), clientId, undefined, auth ?? client.ClientSecretBasic(secret), {
    execute: [client.allowInsecureRequests],
  });
}

// Starts an authorization request with PKCE S256, state and nonce.
export async function authRequest(config, { scope = 'openid profile email groups offline_access', extra = {} } = {}) {
  const verifier = client.randomPKCECodeVerifier();
  const state = client.randomState();
  const nonce = client.randomNonce();
  const url = client.buildAuthorizationUrl(config, {
    redirect_uri: CALLBACK,
    scope,
    state,
    nonce,
    code_challenge: await client.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    ...extra,
  });
  return {
    url, verifier, state, nonce,
  };
}

// Full sign-in with openid-client; returns { tokens, claims, req }.
export async function signInWithClient(config, browser, origin, { username = 'alice@example.com', password = 'alice-password', scope } = {}) {
  const req = await authRequest(config, { scope });
  const callback = await browser.signIn(req.url.href, origin, username, password);
  const tokens = await client.authorizationCodeGrant(config, callback, {
    pkceCodeVerifier: req.verifier,
    expectedState: req.state,
    expectedNonce: req.nonce,
    idTokenExpected: true,
  });
  return { tokens, claims: tokens.claims(), req, callback };
}

export { client };
