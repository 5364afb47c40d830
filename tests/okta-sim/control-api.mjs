// The control API for tests, under /__sim/ (never an Okta path). JSON in, JSON
// out; errors are { "error": "..." } with 400/404/405 (directory rule
// violations also carry Okta's errorCode). Requests to /__sim/ are not rate
// limited, not fault-injected and not recorded in the call log.
// README.md lists every route with its body.

import * as clock from './clock.mjs';
import { OktaError, sendJson, parseJson, HttpError } from './http-util.mjs';
import { normalizeClient, applyLifetimes, DEFAULT_SETTINGS } from './seed.mjs';
import { SERVER_NAMES } from './oidc.mjs';
import { ID_TOKEN_DEFECTS, OTHER_DEFECTS } from './defects.mjs';
import { randomAlnum } from './ids.mjs';

const MAX_BATCH = 10_000;

// A response with a status other than 200.
class Reply {
  constructor(status, body) {
    this.status = status;
    this.body = body;
  }
}

export class ControlApi {
  constructor(sim) {
    this.sim = sim; // the Simulator (server.mjs)
  }

  async handle(req, res, url, body) {
    if (url.pathname !== '/__sim' && !url.pathname.startsWith('/__sim/')) return false;
    try {
      const out = await this.#dispatch(req.method, url, body);
      if (out instanceof Reply) sendJson(res, out.status, out.body);
      else sendJson(res, 200, out);
    } catch (err) {
      if (err instanceof OktaError) {
        sendJson(res, err.status, { error: err.message, errorCode: err.code, errorCauses: err.causes });
      } else if (err instanceof HttpError) {
        sendJson(res, err.status, { error: err.message });
      } else if (err instanceof TypeError || err instanceof RangeError || err instanceof SyntaxError || err instanceof URIError) {
        sendJson(res, 400, { error: err.message });
      } else {
        throw err;
      }
    }
    return true;
  }

  async #dispatch(method, url, body) {
    const { sim } = this;
    const { directory, oidc, rateLimiter, mgmt } = sim;
    const parts = url.pathname.split('/').slice(2).filter(Boolean).map(decodeURIComponent);
    const json = () => parseJson(body);
    const is = (m, ...path) => method === m && path.length === parts.length
      && path.every((p, i) => p === '*' || p === parts[i]);
    const userOut = (u) => ({ ...mgmt.userJson(u), password: undefined });
    const groupOut = (g) => ({ ...mgmt.groupJson(g, { stats: true }), members: directory.membersOf(g).map((u) => u.profile.login) });

    if (is('GET', 'health')) return { ok: true, url: sim.baseUrl };
    if (is('GET', 'state')) {
      return {
        url: sim.baseUrl,
        org: sim.org,
        clock: { now: clock.iso(), offset_seconds: clock.offsetSeconds() },
        users: directory.users.size,
        groups: directory.groups.size,
        log_events: sim.systemLog.events.length,
        clients: [...sim.clients.keys()],
        settings: sim.settings,
        keys: Object.fromEntries(SERVER_NAMES.map((n) => [n, sim.keys[n].describe()])),
        tokens: oidc.stats(),
      };
    }

    // ---- users and groups ----------------------------------------------------
    if (is('POST', 'users')) {
      const specs = batch(json(), 'users');
      return new Reply(201, { users: specs.map((s) => userOut(directory.addUser(s))) });
    }
    if (is('GET', 'users', '*')) return userOut(directory.requireUser(parts[1]));
    if (is('PATCH', 'users', '*')) {
      const b = json();
      let u = directory.requireUser(parts[1]);
      if (b.password !== undefined) u = directory.setPassword(u.id, b.password);
      if (b.profile) u = directory.updateProfile(u.id, b.profile);
      return userOut(u);
    }
    if (method === 'POST' && parts.length === 3 && parts[0] === 'users') {
      const id = directory.requireUser(parts[1]).id;
      const ops = {
        deactivate: () => directory.deactivate(id),
        suspend: () => directory.suspend(id),
        unsuspend: () => directory.unsuspend(id),
        activate: () => directory.activate(id),
        reactivate: () => directory.activate(id),
        lock: () => directory.lock(id),
        unlock: () => directory.unlock(id),
        'clear-sessions': () => directory.clearSessions(id, { oauthTokens: json().oauth_tokens === true }),
      };
      if (!ops[parts[2]]) throw new HttpError(404, `unknown user operation ${parts[2]}; one of ${Object.keys(ops).join(', ')}`);
      return userOut(ops[parts[2]]());
    }
    if (is('POST', 'groups')) {
      const specs = batch(json(), 'groups');
      return new Reply(201, { groups: specs.map((s) => groupOut(directory.addGroup(s))) });
    }
    if (is('GET', 'groups', '*')) return groupOut(directory.requireGroup(parts[1]));
    if (is('DELETE', 'groups', '*')) {
      directory.deleteGroup(parts[1]);
      return { deleted: parts[1] };
    }
    if (is('POST', 'groups', '*', 'members')) {
      const g = directory.requireGroup(parts[1]);
      const b = json();
      const users = b.users ?? (b.user ? [b.user] : []);
      if (!Array.isArray(users) || users.length > MAX_BATCH) throw new TypeError('users must be an array of logins or ids');
      const added = users.filter((u) => directory.addMember(g.id, u));
      return { ...groupOut(g), added: added.length };
    }
    if (is('DELETE', 'groups', '*', 'members', '*')) {
      const g = directory.requireGroup(parts[1]);
      const removed = directory.removeMember(g.id, parts[3]);
      return { ...groupOut(g), removed };
    }

    // ---- apps and credentials ------------------------------------------------
    if (is('POST', 'clients')) {
      const b = json();
      const c = normalizeClient(b, { service: b.application_type === 'service' });
      sim.clients.set(c.client_id, c);
      await oidc.rebuild();
      return new Reply(201, { client_id: c.client_id, servers: c.servers, application_type: c.application_type });
    }
    if (is('POST', 'api-tokens')) {
      const b = json();
      const token = b.token ?? `00${randomAlnum(40)}`;
      if (typeof token !== 'string' || token.length < 8 || token.length > 200) throw new TypeError('token must be 8..200 characters');
      sim.apiTokens.set(token, { name: b.name ?? 'test token', created: Date.now(), lastUsed: undefined, revoked: false });
      return new Reply(201, { token, name: b.name ?? 'test token' });
    }
    if (is('DELETE', 'api-tokens', '*')) {
      const t = sim.apiTokens.get(parts[1]);
      if (!t) throw new HttpError(404, 'unknown token');
      t.revoked = true;
      return { revoked: true };
    }

    // ---- keys, lifetimes, token shape ----------------------------------------
    if (is('GET', 'keys')) return Object.fromEntries(SERVER_NAMES.map((n) => [n, sim.keys[n].describe()]));
    if (is('POST', 'keys', 'rotate')) {
      const b = json();
      const names = servers(b.server);
      const out = {};
      for (const n of names) out[n] = await sim.keys[n].rotate(b.mode ?? 'rotate');
      await oidc.rebuild();
      return out;
    }
    if (is('GET', 'lifetimes')) return sim.settings.lifetimes;
    if (is('POST', 'lifetimes') || is('PUT', 'lifetimes')) {
      const { server, ...values } = json();
      if (server !== undefined && !SERVER_NAMES.includes(server)) throw new TypeError(`server must be one of ${SERVER_NAMES.join(', ')}`);
      applyLifetimes(sim.settings, values, server);
      return sim.settings.lifetimes;
    }
    if (is('POST', 'thin-id-token')) {
      const b = json();
      if (typeof b.enabled !== 'boolean') throw new TypeError('enabled must be a boolean');
      for (const n of servers(b.server ?? 'org')) sim.settings.thin_id_token[n] = b.enabled;
      return sim.settings.thin_id_token;
    }
    if (is('GET', 'settings')) return sim.settings;
    if (is('POST', 'settings') || is('PATCH', 'settings')) {
      const b = json();
      for (const [k, v] of Object.entries(b)) {
        if (!(k in DEFAULT_SETTINGS) || k === 'thin_id_token') throw new TypeError(`unknown or read-only setting ${k}`);
        if (typeof v !== typeof DEFAULT_SETTINGS[k]) throw new TypeError(`${k} must be a ${typeof DEFAULT_SETTINGS[k]}`);
        if (k === 'link_header' && !['separate', 'joined'].includes(v)) throw new TypeError('link_header must be separate or joined');
        sim.settings[k] = v;
      }
      return sim.settings;
    }
    if (is('GET', 'misbehave')) return { defects: oidc.defects.items, available: { ...ID_TOKEN_DEFECTS, ...OTHER_DEFECTS } };
    if (is('POST', 'misbehave')) {
      oidc.defects.add(json());
      return { defects: oidc.defects.items };
    }
    if (is('DELETE', 'misbehave')) {
      oidc.defects.clear();
      return { defects: [] };
    }

    // ---- faults, budgets, call log ------------------------------------------
    if (is('GET', 'faults')) return { faults: rateLimiter.faults };
    if (is('POST', 'faults')) {
      rateLimiter.addFault(json());
      return { faults: rateLimiter.faults };
    }
    if (is('DELETE', 'faults')) {
      rateLimiter.faults = [];
      return { faults: [] };
    }
    if (is('GET', 'rate-limit')) return { buckets: rateLimiter.describe() };
    if (is('POST', 'rate-limit')) {
      const b = json();
      rateLimiter.setLimit(b.limit, b.bucket);
      return { buckets: rateLimiter.describe() };
    }
    if (is('DELETE', 'rate-limit')) {
      const { faults } = rateLimiter;
      rateLimiter.reset();
      rateLimiter.faults = faults;
      return { buckets: rateLimiter.describe() };
    }
    if (is('GET', 'calls')) {
      const prefix = url.searchParams.get('path_prefix') ?? '';
      const m = url.searchParams.get('method')?.toUpperCase();
      const calls = sim.calls.filter((c) => c.path.startsWith(prefix) && (!m || c.method === m));
      return { count: calls.length, calls };
    }
    if (is('DELETE', 'calls')) {
      sim.calls.length = 0;
      return { count: 0, calls: [] };
    }

    // ---- clock and reset -----------------------------------------------------
    if (is('GET', 'clock')) return { now: clock.iso(), epoch: clock.nowSec(), offset_seconds: clock.offsetSeconds() };
    if (is('POST', 'clock')) {
      const b = json();
      if (b.advance !== undefined) {
        if (typeof b.advance !== 'number') throw new TypeError('advance must be a number of seconds');
        clock.advance(b.advance);
      } else if (b.set !== undefined) {
        const t = typeof b.set === 'number' ? b.set * 1000 : Date.parse(b.set);
        if (!Number.isFinite(t)) throw new TypeError('set must be an ISO 8601 time or epoch seconds');
        clock.setNow(t);
      } else if (b.reset === true) {
        clock.resetClock();
      } else {
        throw new TypeError('body must have advance (seconds), set (ISO time or epoch seconds) or reset: true');
      }
      return { now: clock.iso(), epoch: clock.nowSec(), offset_seconds: clock.offsetSeconds() };
    }
    if (is('POST', 'reset')) {
      await sim.reset({ keys: json().keys === true });
      return { reset: true };
    }

    throw new HttpError(404, `unknown control route ${method} ${url.pathname}`);
  }
}

function batch(b, key) {
  const list = Array.isArray(b) ? b : Array.isArray(b[key]) ? b[key] : [b];
  if (list.length > MAX_BATCH) throw new TypeError(`at most ${MAX_BATCH} ${key} per request`);
  return list;
}

function servers(server) {
  if (server === undefined || server === 'all') return SERVER_NAMES;
  if (!SERVER_NAMES.includes(server)) throw new TypeError(`server must be one of ${SERVER_NAMES.join(', ')} or all`);
  return [server];
}
