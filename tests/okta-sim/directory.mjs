// The users-and-groups store behind the Management API, the login page and the
// OIDC claims.
//
// Contract:
//   - ids are Okta-shaped (00u... users, 00g... groups); timestamps are epoch ms
//     internally and rendered as YYYY-MM-DDTHH:mm:ss.SSSZ by the API layer;
//   - a user's `lastUpdated` moves on profile and status changes; a group's
//     `lastUpdated` on profile changes and `lastMembershipUpdated` on membership
//     changes (Okta's documented split);
//   - deactivation keeps group memberships (as Okta does for rule-based groups;
//     the simulator does it for all groups, see README);
//   - every lifecycle change emits an event named after Okta's System Log
//     eventType on `directory.events` with { user, group?, actor }: the System
//     Log records it and the OIDC layer revokes tokens and sessions;
//   - state-changing calls validate Okta's status rules and throw OktaError
//     (400 E0000001 / 403 E0000038) on a wrong-state transition.

import { EventEmitter } from 'node:events';

import { nowMs } from './clock.mjs';
import { oktaId } from './ids.mjs';
import { OktaError } from './http-util.mjs';

export const USER_STATUSES = new Set([
  'STAGED', 'PROVISIONED', 'ACTIVE', 'RECOVERY', 'LOCKED_OUT', 'PASSWORD_EXPIRED', 'SUSPENDED', 'DEPROVISIONED',
]);

// Statuses whose holders may sign in and keep using tokens.
export const CAN_SIGN_IN = new Set(['ACTIVE', 'PASSWORD_EXPIRED']);

const MAX_NAME = 255;

export class Directory {
  constructor() {
    this.events = new EventEmitter();
    this.events.setMaxListeners(50);
    this.users = new Map(); // id -> user record
    this.byLogin = new Map(); // lower-cased login -> id
    this.groups = new Map(); // id -> group record
    this.userGroupIds = new Map(); // user id -> Set(group id)
    this.seq = 0; // creation order, used for stable list ordering and cursors
    this.userTypeId = oktaId('oty');
  }

  // ---- users ----------------------------------------------------------------

  addUser(spec, { actor, silent = false } = {}) {
    const login = String(spec.login ?? spec.profile?.login ?? '').trim();
    if (login.length < 1 || login.length > 100) throw new OktaError('E0000001', 'login: must be 1..100 characters');
    if (this.byLogin.has(login.toLowerCase())) throw new OktaError('E0000001', `login: An object with this field already exists (${login})`);
    const status = spec.status ?? 'ACTIVE';
    if (!USER_STATUSES.has(status)) throw new OktaError('E0000001', `status: unknown status ${status}`);
    const id = spec.id ?? oktaId('00u');
    if (this.users.has(id)) throw new OktaError('E0000001', `id: already exists (${id})`);
    const now = nowMs();
    const p = spec.profile ?? {};
    const profile = {
      ...p,
      firstName: spec.firstName ?? p.firstName ?? null,
      lastName: spec.lastName ?? p.lastName ?? null,
      mobilePhone: spec.mobilePhone ?? p.mobilePhone ?? null,
      secondEmail: spec.secondEmail ?? p.secondEmail ?? null,
      login,
      email: spec.email ?? p.email ?? login,
    };
    const user = {
      id,
      status,
      created: now,
      activated: status === 'STAGED' ? null : now,
      statusChanged: status === 'ACTIVE' ? null : now,
      lastLogin: null,
      lastUpdated: now,
      passwordChanged: spec.password ? now : null,
      profile,
      password: spec.password ?? null,
      seq: ++this.seq,
    };
    this.users.set(id, user);
    this.byLogin.set(login.toLowerCase(), id);
    this.userGroupIds.set(id, new Set());
    if (!silent) this.events.emit('user.lifecycle.create', { user, actor });
    return user;
  }

  // Finds a user by id, full login (case-insensitive) or the part of the login
  // before '@' when that is unambiguous (Okta's "short login").
  findUser(idOrLogin) {
    if (typeof idOrLogin !== 'string' || !idOrLogin) return undefined;
    const byId = this.users.get(idOrLogin);
    if (byId) return byId;
    const byLogin = this.byLogin.get(idOrLogin.toLowerCase());
    if (byLogin) return this.users.get(byLogin);
    if (!idOrLogin.includes('@')) {
      const short = idOrLogin.toLowerCase();
      const matches = [...this.users.values()].filter((u) => u.profile.login.toLowerCase().split('@')[0] === short);
      if (matches.length === 1) return matches[0];
    }
    return undefined;
  }

  requireUser(idOrLogin) {
    const user = this.findUser(idOrLogin);
    if (!user) throw new OktaError('E0000007', `Resource not found: ${idOrLogin} (User)`);
    return user;
  }

  updateProfile(idOrLogin, changes, { actor } = {}) {
    const user = this.requireUser(idOrLogin);
    const next = { ...user.profile, ...changes };
    if (next.login !== user.profile.login) {
      if (this.byLogin.has(String(next.login).toLowerCase())) throw new OktaError('E0000001', 'login: An object with this field already exists');
      this.byLogin.delete(user.profile.login.toLowerCase());
      this.byLogin.set(String(next.login).toLowerCase(), user.id);
    }
    user.profile = next;
    user.lastUpdated = nowMs();
    this.events.emit('user.account.update_profile', { user, actor });
    return user;
  }

  setPassword(idOrLogin, password) {
    const user = this.requireUser(idOrLogin);
    user.password = String(password);
    user.passwordChanged = nowMs();
    user.lastUpdated = user.passwordChanged;
    return user;
  }

  // `true` when `password` is the user's password (plain comparison: the
  // simulator's passwords are test fixtures).
  checkPassword(user, password) {
    return typeof user.password === 'string' && user.password === password;
  }

  recordLogin(user) {
    user.lastLogin = nowMs();
  }

  #transition(user, status, eventType, actor) {
    const now = nowMs();
    user.status = status;
    user.statusChanged = now;
    user.lastUpdated = now;
    if (status === 'ACTIVE' && !user.activated) user.activated = now;
    this.events.emit(eventType, { user, actor });
    return user;
  }

  // Okta: deactivate works from any status but DEPROVISIONED.
  deactivate(idOrLogin, { actor } = {}) {
    const user = this.requireUser(idOrLogin);
    if (user.status === 'DEPROVISIONED') throw new OktaError('E0000001', 'Cannot deactivate a user that is already deactivated');
    return this.#transition(user, 'DEPROVISIONED', 'user.lifecycle.deactivate', actor);
  }

  // Okta: suspend only from ACTIVE; unsuspend only from SUSPENDED.
  suspend(idOrLogin, { actor } = {}) {
    const user = this.requireUser(idOrLogin);
    if (user.status !== 'ACTIVE') throw new OktaError('E0000001', 'Cannot suspend a user that is not active');
    return this.#transition(user, 'SUSPENDED', 'user.lifecycle.suspend', actor);
  }

  unsuspend(idOrLogin, { actor } = {}) {
    const user = this.requireUser(idOrLogin);
    if (user.status !== 'SUSPENDED') throw new OktaError('E0000001', 'Cannot unsuspend a user that is not suspended');
    return this.#transition(user, 'ACTIVE', 'user.lifecycle.unsuspend', actor);
  }

  // activate: STAGED/PROVISIONED -> ACTIVE; on a DEPROVISIONED user this is
  // Okta's reactivation (logged as user.lifecycle.reactivate).
  activate(idOrLogin, { actor } = {}) {
    const user = this.requireUser(idOrLogin);
    if (user.status === 'DEPROVISIONED') return this.#transition(user, 'ACTIVE', 'user.lifecycle.reactivate', actor);
    if (user.status !== 'STAGED' && user.status !== 'PROVISIONED') {
      throw new OktaError('E0000038');
    }
    return this.#transition(user, 'ACTIVE', 'user.lifecycle.activate', actor);
  }

  lock(idOrLogin, { actor } = {}) {
    const user = this.requireUser(idOrLogin);
    if (user.status !== 'ACTIVE') throw new OktaError('E0000038');
    return this.#transition(user, 'LOCKED_OUT', 'user.account.lock', actor);
  }

  unlock(idOrLogin, { actor } = {}) {
    const user = this.requireUser(idOrLogin);
    if (user.status !== 'LOCKED_OUT') throw new OktaError('E0000038');
    return this.#transition(user, 'ACTIVE', 'user.account.unlock', actor);
  }

  // Ends the user's Okta sessions (and with oauthTokens, their OAuth tokens).
  clearSessions(idOrLogin, { actor, oauthTokens = false } = {}) {
    const user = this.requireUser(idOrLogin);
    this.events.emit('user.session.clear', { user, actor, oauthTokens });
    return user;
  }

  // ---- groups ---------------------------------------------------------------

  // `unchecked` skips the (linear) duplicate-name check: only for generated orgs, whose names are unique by
  // construction.
  addGroup(spec, { actor, silent = false, unchecked = false } = {}) {
    const name = String(spec.name ?? spec.profile?.name ?? '').trim();
    if (!name || name.length > MAX_NAME) throw new OktaError('E0000001', 'name: must be 1..255 characters');
    for (const g of unchecked ? [] : this.groups.values()) {
      if (g.profile.name === name && g.type === 'OKTA_GROUP') {
        throw new OktaError('E0000001', 'name: An object with this field already exists in the current organization');
      }
    }
    const id = spec.id ?? oktaId('00g');
    if (this.groups.has(id)) throw new OktaError('E0000001', `id: already exists (${id})`);
    const now = nowMs();
    const group = {
      id,
      created: now,
      lastUpdated: now,
      lastMembershipUpdated: now,
      type: spec.type ?? 'OKTA_GROUP',
      profile: { ...(spec.profile ?? {}), name, description: spec.description ?? spec.profile?.description ?? null },
      members: new Set(),
      seq: ++this.seq,
    };
    this.groups.set(id, group);
    if (!silent) this.events.emit('group.lifecycle.create', { group, actor });
    for (const m of spec.members ?? []) this.addMember(id, m, { actor, silent: true });
    return group;
  }

  findGroup(id) {
    return this.groups.get(id);
  }

  // Accepts a group id or, for the control API's convenience, an exact name.
  requireGroup(idOrName) {
    const g = this.groups.get(idOrName) ?? [...this.groups.values()].find((x) => x.profile.name === idOrName);
    if (!g) throw new OktaError('E0000007', `Resource not found: ${idOrName} (UserGroup)`);
    return g;
  }

  // Adds a member; a no-op (no event, no timestamp change) when already a member.
  // `silent` suppresses the System Log event (used while loading the seed).
  addMember(groupIdOrName, userIdOrLogin, { actor, silent = false } = {}) {
    const group = this.requireGroup(groupIdOrName);
    const user = this.requireUser(userIdOrLogin);
    if (group.members.has(user.id)) return false;
    group.members.add(user.id);
    this.userGroupIds.get(user.id).add(group.id);
    group.lastMembershipUpdated = nowMs();
    if (!silent) this.events.emit('group.user_membership.add', { user, group, actor });
    return true;
  }

  // A membership from a generated org: no lookups by name, no event (the caller holds the records).
  addMemberFast(group, userId) {
    group.members.add(userId);
    this.userGroupIds.get(userId).add(group.id);
  }

  removeMember(groupIdOrName, userIdOrLogin, { actor } = {}) {
    const group = this.requireGroup(groupIdOrName);
    const user = this.requireUser(userIdOrLogin);
    if (!group.members.has(user.id)) return false;
    group.members.delete(user.id);
    this.userGroupIds.get(user.id).delete(group.id);
    group.lastMembershipUpdated = nowMs();
    this.events.emit('group.user_membership.remove', { user, group, actor });
    return true;
  }

  deleteGroup(groupIdOrName, { actor } = {}) {
    const group = this.requireGroup(groupIdOrName);
    for (const uid of group.members) this.userGroupIds.get(uid)?.delete(group.id);
    this.groups.delete(group.id);
    this.events.emit('group.lifecycle.delete', { group, actor });
    return group;
  }

  // Groups of a user, in creation order.
  groupsOf(userId) {
    return [...(this.userGroupIds.get(userId) ?? [])]
      .map((gid) => this.groups.get(gid))
      .filter(Boolean)
      .sort((a, b) => a.seq - b.seq);
  }

  // Members of a group, in creation order.
  membersOf(group) {
    return [...group.members].map((uid) => this.users.get(uid)).filter(Boolean).sort((a, b) => a.seq - b.seq);
  }

  listUsers() {
    return [...this.users.values()].sort((a, b) => a.seq - b.seq);
  }

  listGroups() {
    return [...this.groups.values()].sort((a, b) => a.seq - b.seq);
  }
}
