// Okta's Management API subset: users, groups, memberships, a few lifecycle
// operations, and the System Log endpoint.
//
// Contract:
//   - authentication: `Authorization: SSWS <api token>` (unknown, revoked or
//     30-days-idle token -> 401 E0000011) or `Bearer <access token>` from the
//     org server's client-credentials grant, checked for the endpoint's scope
//     (missing scope -> 403 E0000006 with a Bearer insufficient_scope
//     WWW-Authenticate header);
//   - lists are ordered by creation and paged with sealed `after` cursors; the
//     Link header carries rel="self" and, unless on the last page, rel="next"
//     which repeats the query (separate header lines, or one comma-joined line
//     when settings.link_header is "joined");
//   - `limit` above an endpoint's maximum is clamped (or 400 E0000001 when
//     settings.reject_oversize_limit is set); a forged cursor is 400 E0000001;
//   - the unfiltered /users list and `q` hide DEPROVISIONED users, `filter` and
//     `search` include them; `q` results are not paged.

import { iso } from './clock.mjs';
import { OktaError, sendJson, sendOktaError } from './http-util.mjs';
import { parseFilter, evaluate, getPath } from './filter.mjs';
import { sealCursor, openCursor } from './ids.mjs';

const SSWS_IDLE_MS = 30 * 24 * 3600 * 1000;
const DATE_OPS = ['eq', 'gt', 'ge', 'lt', 'le'];

const USER_FILTER = {
  attrs: {
    status: ['eq'],
    lastUpdated: DATE_OPS,
    id: ['eq'],
    'profile.login': ['eq'],
    'profile.email': ['eq'],
    'profile.firstName': ['eq'],
    'profile.lastName': ['eq'],
  },
  dates: new Set(['lastUpdated']),
};

const USER_SEARCH_DATES = ['created', 'activated', 'statusChanged', 'lastUpdated', 'lastLogin', 'passwordChanged'];
const USER_SEARCH = {
  attrs: Object.fromEntries([
    ['id', ['eq', 'sw', 'pr']],
    ['status', ['eq', 'sw', 'gt', 'ge', 'lt', 'le', 'pr']],
    ['type.id', ['eq', 'pr']],
    ...USER_SEARCH_DATES.map((d) => [d, [...DATE_OPS, 'pr']]),
  ]),
  dynamic: (attr) => {
    if (!/^profile\.[A-Za-z0-9_]+$/.test(attr)) return undefined;
    const co = ['profile.firstName', 'profile.lastName', 'profile.email', 'profile.login'].includes(attr);
    return co ? ['eq', 'sw', 'co', 'pr', 'gt', 'ge', 'lt', 'le'] : ['eq', 'sw', 'pr', 'gt', 'ge', 'lt', 'le'];
  },
  dates: new Set(USER_SEARCH_DATES),
  caseInsensitive: true,
};

const GROUP_FILTER = {
  attrs: {
    id: ['eq'],
    type: ['eq'],
    lastUpdated: DATE_OPS,
    lastMembershipUpdated: DATE_OPS,
  },
  dates: new Set(['lastUpdated', 'lastMembershipUpdated']),
};

const GROUP_SEARCH = {
  attrs: {
    id: ['eq', 'sw', 'pr'],
    type: ['eq', 'sw', 'pr'],
    'source.id': ['eq', 'pr'],
    created: [...DATE_OPS, 'pr'],
    lastUpdated: [...DATE_OPS, 'pr'],
    lastMembershipUpdated: [...DATE_OPS, 'pr'],
  },
  dynamic: (attr) => {
    if (!/^profile\.[A-Za-z0-9_]+$/.test(attr)) return undefined;
    return ['profile.name', 'profile.description'].includes(attr) ? ['eq', 'sw', 'co', 'pr'] : ['eq', 'sw', 'pr'];
  },
  dates: new Set(['created', 'lastUpdated', 'lastMembershipUpdated']),
  caseInsensitive: true,
};

// Required scope per (method, route); any listed scope suffices.
const SCOPES = {
  'GET users': ['okta.users.read', 'okta.users.manage'],
  'GET groups': ['okta.groups.read', 'okta.groups.manage'],
  'GET logs': ['okta.logs.read'],
  'MANAGE users': ['okta.users.manage'],
  'MANAGE groups': ['okta.groups.manage'],
};

const ts = (ms) => (ms === null || ms === undefined ? null : iso(ms));

export class ManagementApi {
  constructor(sim, oidc) {
    this.sim = sim;
    this.oidc = oidc;
  }

  get base() {
    return this.sim.baseUrl;
  }

  // ---- serialisation -------------------------------------------------------

  userJson(u, { full = false } = {}) {
    const self = `${this.base}/api/v1/users/${u.id}`;
    const links = { self: { href: self } };
    if (full) {
      const life = (op) => ({ href: `${self}/lifecycle/${op}`, method: 'POST' });
      if (u.status === 'ACTIVE') Object.assign(links, { suspend: life('suspend'), deactivate: life('deactivate') });
      if (u.status === 'SUSPENDED') Object.assign(links, { unsuspend: life('unsuspend'), deactivate: life('deactivate') });
      if (u.status === 'DEPROVISIONED') Object.assign(links, { activate: life('activate') });
      if (u.status === 'LOCKED_OUT') Object.assign(links, { unlock: life('unlock'), deactivate: life('deactivate') });
      links.type = { href: `${this.base}/api/v1/meta/types/user/${this.sim.directory.userTypeId}` };
    }
    return {
      ...this.#searchable(u),
      profile: { ...u.profile },
      credentials: {
        ...(u.password ? { password: {} } : {}),
        emails: [{ value: u.profile.email, status: 'VERIFIED', type: 'PRIMARY' }],
        provider: { type: 'OKTA', name: 'OKTA' },
      },
      _links: links,
    };
  }

  groupJson(g, { stats = false } = {}) {
    const self = `${this.base}/api/v1/groups/${g.id}`;
    return {
      id: g.id,
      created: ts(g.created),
      lastUpdated: ts(g.lastUpdated),
      lastMembershipUpdated: ts(g.lastMembershipUpdated),
      objectClass: ['okta:user_group'],
      type: g.type,
      profile: { ...g.profile },
      _links: {
        logo: [
          { name: 'medium', href: 'https://ok12static.oktacdn.com/assets/img/logos/groups/odyssey/okta-medium.png', type: 'image/png' },
          { name: 'large', href: 'https://ok12static.oktacdn.com/assets/img/logos/groups/odyssey/okta-large.png', type: 'image/png' },
        ],
        users: { href: `${self}/users` },
        apps: { href: `${self}/apps` },
      },
      ...(stats ? {
        _embedded: {
          stats: {
            usersCount: g.members.size, appsCount: 0, groupPushMappingsCount: 0, hasAdminPrivilege: false,
          },
        },
      } : {}),
    };
  }

  // ---- request handling ----------------------------------------------------

  async handle(req, res, url) {
    if (!url.pathname.startsWith('/api/v1/')) return false;
    try {
      await this.#dispatch(req, res, url);
    } catch (err) {
      if (err instanceof OktaError) {
        sendOktaError(res, err, err.headers ?? {});
      } else if (err instanceof URIError) {
        sendOktaError(res, new OktaError('E0000001', 'malformed URL encoding'));
      } else {
        throw err;
      }
    }
    return true;
  }

  async #dispatch(req, res, url) {
    const parts = url.pathname.replace(/\/+$/, '').split('/').slice(3).map(decodeURIComponent); // after /api/v1
    const [root, id, sub, op] = parts;
    const m = req.method;
    const route = (methods) => {
      if (!methods.includes(m)) throw new OktaError('E0000022');
    };

    if (root === 'users') {
      if (parts.length === 1) {
        route(['GET']);
        await this.#auth(req, 'GET users');
        return this.#listUsers(res, url);
      }
      if (parts.length === 2) {
        route(['GET']);
        await this.#auth(req, 'GET users');
        const user = this.sim.directory.requireUser(id);
        return sendJson(res, 200, this.userJson(user, { full: true }));
      }
      if (parts.length === 3 && sub === 'groups') {
        route(['GET']);
        await this.#auth(req, 'GET users');
        const user = this.sim.directory.requireUser(id);
        const groups = this.sim.directory.groupsOf(user.id);
        return this.#page(res, url, 'ug', groups, { def: 20, max: 200 }, (g) => this.groupJson(g));
      }
      if (parts.length === 4 && sub === 'lifecycle') {
        route(['POST']);
        const actor = await this.#auth(req, 'MANAGE users');
        const d = this.sim.directory;
        const ops = {
          deactivate: (x) => d.deactivate(x, { actor }),
          suspend: (x) => d.suspend(x, { actor }),
          unsuspend: (x) => d.unsuspend(x, { actor }),
          activate: (x) => d.activate(x, { actor }),
          reactivate: (x) => d.activate(x, { actor }),
          unlock: (x) => d.unlock(x, { actor }),
        };
        if (!ops[op]) throw new OktaError('E0000007', `Resource not found: ${url.pathname}`);
        ops[op](d.requireUser(id).id);
        return sendJson(res, 200, {});
      }
      if (parts.length === 3 && sub === 'sessions') {
        route(['DELETE']);
        const actor = await this.#auth(req, 'MANAGE users');
        const oauthTokens = url.searchParams.get('oauthTokens') === 'true';
        this.sim.directory.clearSessions(this.sim.directory.requireUser(id).id, { actor, oauthTokens });
        res.writeHead(204);
        return res.end();
      }
    }

    if (root === 'groups') {
      if (parts.length === 1) {
        route(['GET']);
        await this.#auth(req, 'GET groups');
        return this.#listGroups(res, url);
      }
      const group = () => {
        const g = this.sim.directory.findGroup(id);
        if (!g) throw new OktaError('E0000007', `Resource not found: ${id} (UserGroup)`);
        return g;
      };
      if (parts.length === 2) {
        route(['GET']);
        await this.#auth(req, 'GET groups');
        return sendJson(res, 200, this.groupJson(group(), { stats: /\bstats\b/.test(url.searchParams.get('expand') ?? '') }));
      }
      if (parts.length === 3 && sub === 'users') {
        route(['GET']);
        await this.#auth(req, 'GET groups');
        const members = this.sim.directory.membersOf(group());
        return this.#page(res, url, 'gu', members, { def: 1000, max: 1000 }, (u) => this.userJson(u));
      }
      if (parts.length === 4 && sub === 'users') {
        route(['PUT', 'DELETE']);
        const actor = await this.#auth(req, 'MANAGE groups');
        const g = group();
        const user = this.sim.directory.requireUser(op);
        if (m === 'PUT') this.sim.directory.addMember(g.id, user.id, { actor });
        else this.sim.directory.removeMember(g.id, user.id, { actor });
        res.writeHead(204);
        return res.end();
      }
    }

    if (root === 'logs' && parts.length === 1) {
      route(['GET']);
      await this.#auth(req, 'GET logs');
      const { body: events, links } = this.sim.systemLog.query(url.searchParams, this.#selfUrl(url), this.base);
      return sendJson(res, 200, events, { Link: this.#linkHeader(links) });
    }

    throw new OktaError('E0000007', `Resource not found: ${url.pathname}`);
  }

  // Checks the Authorization header; returns the System Log actor.
  async #auth(req, need) {
    const header = req.headers.authorization ?? '';
    const invalid = () => new OktaError('E0000011');
    let m = /^SSWS\s+(\S+)$/i.exec(header);
    if (m) {
      const tok = this.sim.apiTokens.get(m[1]);
      const now = Date.now();
      if (!tok || tok.revoked) throw invalid();
      if (tok.lastUsed !== undefined && now - tok.lastUsed > SSWS_IDLE_MS) throw invalid();
      tok.lastUsed = now;
      return this.sim.systemActor;
    }
    m = /^Bearer\s+(\S+)$/i.exec(header);
    if (m) {
      const at = await this.oidc.findOrgAccessToken(m[1]);
      if (!at) throw invalid();
      const wanted = SCOPES[need];
      if (!wanted.some((s) => at.scopes.has(s))) {
        const err = new OktaError('E0000006');
        err.headers = {
          'WWW-Authenticate': `Bearer authorization_uri="${this.base}/oauth2/v1/authorize", realm="${this.base}", scope="${wanted[0]}", error="insufficient_scope", error_description="The access token provided does not contain the required scopes.", resource="${need.split(' ')[1]}"`,
        };
        throw err;
      }
      return {
        id: at.clientId, type: 'PublicClientApp', alternateId: at.clientId, displayName: at.clientId, detailEntry: null,
      };
    }
    throw invalid();
  }

  #selfUrl(url) {
    return `${this.base}${url.pathname}${url.search}`;
  }

  #linkHeader(links) {
    const values = links.map(([href, rel]) => `<${href}>; rel="${rel}"`);
    return this.sim.settings.link_header === 'joined' ? values.join(', ') : values;
  }

  #limit(params, def, max) {
    const raw = params.get('limit');
    if (raw === null) return def;
    if (!/^\d+$/.test(raw) || Number(raw) < 1) throw new OktaError('E0000001', 'limit: must be a positive integer');
    const n = Number(raw);
    if (n > max) {
      if (this.sim.settings.reject_oversize_limit) throw new OktaError('E0000001', `limit: must be at most ${max}`);
      return max;
    }
    return n;
  }

  // Pages `items` (already in list order) with an opaque cursor of kind `kind`.
  #page(res, url, kind, items, { def, max }, toJson, { paged = true } = {}) {
    const params = url.searchParams;
    const limit = this.#limit(params, def, max);
    let start = 0;
    const after = params.get('after');
    if (after !== null && paged) {
      const c = openCursor(after);
      if (!c || c.kind !== kind) throw new OktaError('E0000001', 'after: invalid cursor');
      start = items.findIndex((x) => x.seq > c.seq);
      if (start < 0) start = items.length;
    }
    const slice = items.slice(start, start + limit);
    const links = [[this.#selfUrl(url), 'self']];
    if (paged && start + limit < items.length && slice.length) {
      const next = new URL(url.pathname, this.base);
      for (const [k, v] of params) if (k !== 'after') next.searchParams.append(k, v);
      next.searchParams.set('after', sealCursor({ kind, seq: slice[slice.length - 1].seq }));
      links.push([next.href, 'next']);
    }
    sendJson(res, 200, slice.map(toJson), { Link: this.#linkHeader(links) });
  }

  #listUsers(res, url) {
    const p = url.searchParams;
    let users = this.sim.directory.listUsers();
    if (p.get('search') !== null) {
      const ast = parseFilter(p.get('search'), USER_SEARCH);
      users = users.filter((u) => evaluate(ast, this.#searchable(u), getPath, USER_SEARCH));
      return this.#page(res, url, 'us', users, { def: 200, max: 200 }, (u) => this.userJson(u));
    }
    if (p.get('filter') !== null) {
      const ast = parseFilter(p.get('filter'), USER_FILTER);
      users = users.filter((u) => evaluate(ast, this.#searchable(u), getPath, USER_FILTER));
      return this.#page(res, url, 'uf', users, { def: 200, max: 200 }, (u) => this.userJson(u));
    }
    users = users.filter((u) => u.status !== 'DEPROVISIONED');
    if (p.get('q') !== null) {
      const q = p.get('q').toLowerCase();
      users = users.filter((u) => ['firstName', 'lastName', 'email', 'login']
        .some((k) => String(u.profile[k] ?? '').toLowerCase().startsWith(q)));
      return this.#page(res, url, 'uq', users, { def: 10, max: 200 }, (u) => this.userJson(u), { paged: false });
    }
    return this.#page(res, url, 'ul', users, { def: 200, max: 200 }, (u) => this.userJson(u));
  }

  #listGroups(res, url) {
    const p = url.searchParams;
    const stats = /\bstats\b/.test(p.get('expand') ?? '');
    let groups = this.sim.directory.listGroups();
    const toJson = (g) => this.groupJson(g, { stats });
    if (p.get('search') !== null) {
      const ast = parseFilter(p.get('search'), GROUP_SEARCH);
      groups = groups.filter((g) => evaluate(ast, this.#searchableGroup(g), getPath, GROUP_SEARCH));
      return this.#page(res, url, 'gs', groups, { def: 200, max: 10000 }, toJson);
    }
    if (p.get('filter') !== null) {
      const ast = parseFilter(p.get('filter'), GROUP_FILTER);
      groups = groups.filter((g) => evaluate(ast, this.#searchableGroup(g), getPath, GROUP_FILTER));
      return this.#page(res, url, 'gf', groups, { def: 200, max: 10000 }, toJson);
    }
    if (p.get('q') !== null) {
      const q = p.get('q').toLowerCase();
      groups = groups.filter((g) => g.profile.name.toLowerCase().startsWith(q));
      return this.#page(res, url, 'gq', groups, { def: 300, max: 10000 }, toJson, { paged: false });
    }
    return this.#page(res, url, 'gl', groups, { def: 200, max: 10000 }, toJson);
  }

  // The user fields Okta's search and filter expressions see (also the base of the API's user object).
  #searchable(u) {
    return {
      id: u.id,
      status: u.status,
      created: ts(u.created),
      activated: ts(u.activated),
      statusChanged: ts(u.statusChanged),
      lastLogin: ts(u.lastLogin),
      lastUpdated: ts(u.lastUpdated),
      passwordChanged: ts(u.passwordChanged),
      type: { id: this.sim.directory.userTypeId },
      profile: u.profile,
    };
  }

  #searchableGroup(g) {
    return {
      id: g.id,
      type: g.type,
      created: ts(g.created),
      lastUpdated: ts(g.lastUpdated),
      lastMembershipUpdated: ts(g.lastMembershipUpdated),
      source: null,
      profile: g.profile,
    };
  }
}
