// The System Log: Okta LogEvent records and GET /api/v1/logs.
//
// Contract of query():
//   - `since` and `after` are mutually exclusive (400 E0000001);
//   - polling mode (no `until`, sortOrder ASCENDING): events in persistence
//     order; the `next` link is ALWAYS present, also on an empty page, and
//     polling it returns only events persisted after the previous page;
//   - bounded mode (`until` given, or sortOrder DESCENDING): events ordered by
//     `published` within [since, until); `next` only while more remain;
//   - `limit` 0..1000 (default 100, larger values are clamped); `filter` is SCIM
//     on any LogEvent field except `published`; `q` is up to 10 keywords of at
//     most 40 characters, all of which must occur in the event;
//   - `after` cursors are opaque and sealed; a forged one gives 400 E0000001.

import { nowMs, iso } from './clock.mjs';
import { uuid, requestId as newRequestId, sealCursor, openCursor, oktaId } from './ids.mjs';
import { OktaError, requestContext } from './http-util.mjs';
import { parseFilter, evaluate, getPath } from './filter.mjs';

const SEVEN_DAYS_MS = 7 * 24 * 3600 * 1000;

// eventType -> [displayMessage, legacyEventType, severity]
const CATALOGUE = {
  'user.lifecycle.create': ['Create Okta user', 'core.user.config.user_creation.success', 'INFO'],
  'user.lifecycle.activate': ['Activate Okta user', 'core.user.config.user_activated', 'INFO'],
  'user.lifecycle.reactivate': ['Reactivate Okta user', null, 'INFO'],
  'user.lifecycle.deactivate': ['Deactivate Okta user', 'core.user.config.user_deactivated', 'INFO'],
  'user.lifecycle.suspend': ['Suspend Okta user', 'core.user.config.user_suspended', 'INFO'],
  'user.lifecycle.unsuspend': ['Unsuspend Okta user', 'core.user.config.user_unsuspended', 'INFO'],
  'user.account.lock': ['Max sign in attempts exceeded', 'core.user_auth.account_locked', 'WARN'],
  'user.account.unlock': ['Unlock user account', null, 'INFO'],
  'user.account.update_profile': ['Update user profile for Okta', null, 'INFO'],
  'user.session.start': ['User login to Okta', 'core.user_auth.login_success', 'INFO'],
  'user.session.end': ['User logout from Okta', 'core.user_auth.logout_success', 'INFO'],
  'user.session.clear': ['Clear user session', null, 'INFO'],
  'user.authentication.sso': ['User single sign on to app', 'app.auth.sso', 'INFO'],
  'group.user_membership.add': ['Add user to group membership', 'core.user_group_member.user_add', 'INFO'],
  'group.user_membership.remove': ['Remove user from group membership', 'core.user_group_member.user_remove', 'INFO'],
  'group.lifecycle.create': ['Create Okta group', null, 'INFO'],
  'group.lifecycle.delete': ['Delete Okta group', null, 'INFO'],
  'app.oauth2.as.token.detect_reuse': ['Refresh token reuse detected', null, 'WARN'],
  'app.oauth2.token.detect_reuse': ['Refresh token reuse detected', null, 'WARN'],
};

export const userTarget = (u) => ({
  id: u.id,
  type: 'User',
  alternateId: u.profile.login,
  displayName: [u.profile.firstName, u.profile.lastName].filter(Boolean).join(' ') || u.profile.login,
  detailEntry: null,
});

export const groupTarget = (g) => ({
  id: g.id,
  type: 'UserGroup',
  alternateId: 'unknown',
  displayName: g.profile.name,
  detailEntry: null,
});

export const appTarget = (clientId, name) => ({
  id: clientId,
  type: 'AppInstance',
  alternateId: name || clientId,
  displayName: name || clientId,
  detailEntry: null,
});

const FILTER_ROOTS = ['uuid', 'eventType', 'version', 'severity', 'legacyEventType', 'displayMessage', 'actor', 'client',
  'request', 'outcome', 'target', 'transaction', 'debugContext', 'authenticationContext', 'securityContext'];
const FILTER_OPS = ['eq', 'ne', 'co', 'sw', 'ew', 'pr', 'gt', 'ge', 'lt', 'le'];
const FILTER_SCHEMA = {
  attrs: {},
  dynamic: (attr) => (FILTER_ROOTS.includes(attr.split('.')[0]) ? FILTER_OPS : undefined),
};

export class SystemLog {
  constructor({ systemActor }) {
    this.events = []; // persistence order
    this.seq = 0;
    this.systemActor = systemActor;
    this.transactionIds = new Map();
  }

  clear() {
    this.events = [];
  }

  // Appends a LogEvent. `actor` defaults to the simulator's admin; `targets` are
  // LogEvent target objects (see userTarget/groupTarget/appTarget).
  append(eventType, { actor, targets = [], outcome, displayMessage, severity, debugData } = {}) {
    const [defMessage, legacy, defSeverity] = CATALOGUE[eventType] ?? [eventType, null, 'INFO'];
    const rc = requestContext.getStore() ?? {};
    const reqId = rc.requestId ?? newRequestId();
    const event = {
      actor: actor ?? this.systemActor,
      client: {
        userAgent: rc.userAgent
          ? { rawUserAgent: rc.userAgent, os: 'Unknown', browser: 'UNKNOWN' }
          : null,
        zone: 'null',
        device: rc.userAgent ? 'Unknown' : null,
        id: null,
        ipAddress: rc.ip ?? null,
        geographicalContext: null,
      },
      device: null,
      authenticationContext: {
        authenticationProvider: null,
        credentialProvider: null,
        credentialType: null,
        issuer: null,
        interface: null,
        authenticationStep: 0,
        rootSessionId: null,
        externalSessionId: rc.sessionId ?? 'unknown',
      },
      displayMessage: displayMessage ?? defMessage,
      eventType,
      outcome: { result: 'SUCCESS', reason: null, ...(outcome ?? {}) },
      published: iso(nowMs()),
      securityContext: { asNumber: null, asOrg: null, isp: null, domain: null, isProxy: null },
      severity: severity ?? defSeverity,
      debugContext: { debugData: { requestId: reqId, requestUri: rc.path ?? null, ...(debugData ?? {}) } },
      legacyEventType: legacy,
      transaction: { type: rc.requestId ? 'WEB' : 'JOB', id: reqId, detail: {} },
      uuid: uuid(),
      version: '0',
      request: {
        ipChain: rc.ip ? [{ ip: rc.ip, geographicalContext: null, version: 'V4', source: null }] : [],
      },
      target: targets,
    };
    // the sequence number is internal (persistence order); it is not serialised
    Object.defineProperty(event, '_seq', { value: ++this.seq, enumerable: false });
    this.events.push(event);
    return event;
  }

  // Subscribes to the directory's lifecycle events.
  attach(directory) {
    const ev = directory.events;
    const userEvent = (type) => ev.on(type, ({ user, actor }) => this.append(type, { actor, targets: [userTarget(user)] }));
    for (const t of ['user.lifecycle.create', 'user.lifecycle.activate', 'user.lifecycle.reactivate',
      'user.lifecycle.deactivate', 'user.lifecycle.suspend', 'user.lifecycle.unsuspend', 'user.account.lock',
      'user.account.unlock', 'user.account.update_profile', 'user.session.clear']) {
      userEvent(t);
    }
    for (const t of ['group.user_membership.add', 'group.user_membership.remove']) {
      ev.on(t, ({ user, group, actor }) => this.append(t, { actor, targets: [userTarget(user), groupTarget(group)] }));
    }
    for (const t of ['group.lifecycle.create', 'group.lifecycle.delete']) {
      ev.on(t, ({ group, actor }) => this.append(t, { actor, targets: [groupTarget(group)] }));
    }
  }

  // Runs GET /api/v1/logs. `params` is a URLSearchParams, `selfUrl` the request
  // URL, `baseUrl` the org URL. Returns { body, links: [[url, rel]] }.
  query(params, selfUrl, baseUrl) {
    const bad = (why) => new OktaError('E0000001', why);
    for (const k of ['since', 'until', 'after', 'filter', 'q', 'limit', 'sortOrder']) {
      if (params.getAll(k).length > 1) throw bad(`${k}: repeated parameter`);
    }
    const after = params.get('after');
    if (after !== null && params.get('since') !== null) throw bad('since and after are mutually exclusive');

    let limit = 100;
    if (params.get('limit') !== null) {
      if (!/^\d+$/.test(params.get('limit'))) throw bad('limit: must be a non-negative integer');
      limit = Math.min(Number(params.get('limit')), 1000);
    }
    const sortOrder = (params.get('sortOrder') ?? 'ASCENDING').toUpperCase();
    if (sortOrder !== 'ASCENDING' && sortOrder !== 'DESCENDING') throw bad('sortOrder: must be ASCENDING or DESCENDING');

    const parseTime = (name) => {
      const v = params.get(name);
      if (v === null) return undefined;
      const t = Date.parse(v);
      if (Number.isNaN(t)) throw bad(`${name}: not a valid ISO 8601 timestamp`);
      return t;
    };

    const filterAst = params.get('filter') !== null ? parseFilter(params.get('filter'), FILTER_SCHEMA) : undefined;
    const keywords = params.get('q') !== null ? params.get('q').split(/\s+/).filter(Boolean) : [];
    if (keywords.length > 10 || keywords.some((k) => k.length > 40)) throw bad('q: at most 10 keywords of at most 40 characters');
    const matches = (e) => (!filterAst || evaluate(filterAst, e, getPath, FILTER_SCHEMA))
      && keywords.every((k) => JSON.stringify(e).toLowerCase().includes(k.toLowerCase()));

    let state;
    if (after !== null) {
      state = openCursor(after);
      if (!state || state.kind !== 'logs') throw bad('after: invalid cursor');
    } else {
      const until = parseTime('until');
      const now = nowMs();
      const since = parseTime('since') ?? (until ?? now) - SEVEN_DAYS_MS;
      const polling = until === undefined && sortOrder === 'ASCENDING';
      state = polling
        ? { kind: 'logs', mode: 'poll', since, lastSeq: 0 }
        : { kind: 'logs', mode: 'bounded', since, until: until ?? now, order: sortOrder, pos: null };
    }

    let page;
    let nextState;
    if (state.mode === 'poll') {
      const candidates = this.events.filter((e) => e._seq > state.lastSeq && Date.parse(e.published) >= state.since && matches(e));
      page = candidates.slice(0, limit);
      const exhausted = candidates.length <= limit;
      const lastSeq = exhausted ? Math.max(state.lastSeq, this.seq) : page[page.length - 1]._seq;
      nextState = { ...state, lastSeq };
    } else {
      const asc = state.order === 'ASCENDING';
      const key = (e) => [Date.parse(e.published), e._seq];
      const cmp = (a, b) => (a[0] - b[0]) || (a[1] - b[1]);
      let candidates = this.events.filter((e) => {
        const t = Date.parse(e.published);
        return t >= state.since && t < state.until && matches(e);
      });
      candidates.sort((a, b) => (asc ? 1 : -1) * cmp(key(a), key(b)));
      if (state.pos) candidates = candidates.filter((e) => (asc ? 1 : -1) * cmp(key(e), state.pos) > 0);
      page = candidates.slice(0, limit);
      nextState = candidates.length > limit && page.length ? { ...state, pos: key(page[page.length - 1]) } : undefined;
    }

    const links = [[selfUrl, 'self']];
    if (nextState) {
      const next = new URL('/api/v1/logs', baseUrl);
      for (const k of ['filter', 'q', 'limit', 'sortOrder']) {
        if (params.get(k) !== null) next.searchParams.set(k, params.get(k));
      }
      next.searchParams.set('after', sealCursor(nextState));
      links.push([next.href, 'next']);
    }
    return { body: page, links };
  }
}

// The actor recorded for changes made through the control API or an API token.
export function makeSystemActor() {
  return {
    id: oktaId('00u'),
    type: 'User',
    alternateId: 'admin@okta-sim.local',
    displayName: 'Okta Sim Admin',
    detailEntry: null,
  };
}
