// A generated org for scale tests: N users and M groups with K memberships per user on average, made in memory from
// a few numbers (no 100 MB seed file). Deterministic for a given `seed` (logins, names and memberships; the Okta ids
// are random as always).
//
//   "generate": { "users": 100000, "groups": 10000, "groups_per_user": 20, "seed": 1 }
//   or on the command line: --generate users=100000,groups=10000,groups_per_user=20
//
// Users are user000000@gen.example.com … (ACTIVE, password "generated-password"); groups gen-group-00000 …; each
// user joins `groups_per_user` distinct groups chosen uniformly (so a group has users × groups_per_user / groups
// members on average). Like a real org's, their histories are spread over the past year: each user and group gets a
// deterministic created / lastUpdated / lastMembershipUpdated between 365 days and one day before the simulator's
// "now", so a delta query after start-up returns what changed since, not the whole generated org.

import { nowMs } from './clock.mjs';

const LIMITS = { users: 1_000_000, groups: 100_000, groups_per_user: 1000 };

export function parseGenerateFlag(text) {
  const spec = {};
  for (const part of text.split(',').filter(Boolean)) {
    const [k, v] = part.split('=');
    if (!(k in LIMITS) && k !== 'seed') throw new Error(`--generate: unknown key ${k} (users, groups, groups_per_user, seed)`);
    spec[k] = v === undefined || v.trim() === '' ? NaN : Number(v);
  }
  return spec;
}

export function checkGenerateSpec(g) {
  const spec = { users: 0, groups: 0, groups_per_user: 0, seed: 1, ...g };
  for (const [k, max] of Object.entries(LIMITS)) {
    if (!Number.isInteger(spec[k]) || spec[k] < 0 || spec[k] > max) throw new Error(`generate.${k} must be an integer 0..${max}`);
  }
  if (spec.groups_per_user > spec.groups) throw new Error('generate.groups_per_user cannot exceed generate.groups');
  if (!Number.isInteger(spec.seed)) throw new Error('generate.seed must be an integer');
  return spec;
}

// mulberry32: a small, fast, seedable PRNG (statistical quality is plenty for picking groups).
function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const DAY_MS = 86_400_000;

// Adds the generated users, groups and memberships to `directory` without System Log events.
export function generateOrg(directory, g, now = nowMs()) {
  const spec = checkGenerateSpec(g);
  const history = prng(spec.seed ^ 0x5eed);
  // created ≤ lastUpdated ≤ now − 1 day; times on whole milliseconds as Okta's are.
  const past = () => {
    const created = now - DAY_MS - Math.floor(history() * 364 * DAY_MS);
    return { created, updated: created + Math.floor(history() * (now - DAY_MS - created)) };
  };
  const pad = (n, w) => String(n).padStart(w, '0');
  const userIds = new Array(spec.users);
  for (let i = 0; i < spec.users; i++) {
    const login = `user${pad(i, 6)}@gen.example.com`;
    const user = directory.addUser({ login, email: login, firstName: 'Gen', lastName: pad(i, 6), password: 'generated-password' }, { silent: true });
    const t = past();
    user.created = user.activated = t.created;
    user.passwordChanged = user.lastUpdated = t.updated;
    userIds[i] = user.id;
  }
  const groups = new Array(spec.groups);
  for (let j = 0; j < spec.groups; j++) {
    const group = directory.addGroup({ name: `gen-group-${pad(j, 5)}` }, { silent: true, unchecked: true });
    const t = past();
    group.created = t.created;
    group.lastUpdated = group.lastMembershipUpdated = t.updated;
    groups[j] = group;
  }
  const random = prng(spec.seed);
  const picked = new Set();
  for (let i = 0; i < spec.users; i++) {
    picked.clear();
    while (picked.size < spec.groups_per_user) picked.add(Math.floor(random() * spec.groups));
    for (const j of picked) directory.addMemberFast(groups[j], userIds[i]);
  }
  return spec;
}
