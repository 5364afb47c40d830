// Seed file loading and the shape of clients and settings.
//
// Seed file (JSON, at most 4 MiB; every section optional):
//   {
//     "org": { "name": "...", "id": "00o..." },
//     "settings": { see DEFAULT_SETTINGS; "lifetimes" may be given once for
//                   both servers or as { "org": {...}, "default": {...} } },
//     "clients": [ client ],        OIDC apps (web, browser, native)
//     "service_apps": [ client ],   API Services apps (client credentials)
//     "users": [ { "login", "email", "firstName", "lastName", "password",
//                  "status", "id"?, "profile"? } ],
//     "groups": [ { "name", "description", "members": [login or id], "id"? } ],
//     "api_tokens": [ { "token", "name" } ]
//   }
// client: { "client_id", "client_secret", "client_name", "application_type":
//   "web"|"browser"|"native"|"service", "redirect_uris", "post_logout_redirect_uris",
//   "grant_types", "token_endpoint_auth_method", "jwks" (private_key_jwt),
//   "pkce_required", "refresh_token": { "rotation_type": "STATIC"|"ROTATE",
//   "leeway": 0..60 }, "groups_claim_filter" (regex on group names, default ".*"),
//   "assigned_groups" (group names; when set, other users get access_denied),
//   "scopes" (service apps: granted okta.* scopes) }

import { readFileSync, statSync } from 'node:fs';

const MAX_SEED_BYTES = 4 * 1024 * 1024;
const NINETY_DAYS = 90 * 24 * 3600;

export const DEFAULT_LIFETIMES = {
  access_token: 3600,
  id_token: 3600,
  refresh_token: NINETY_DAYS,
  authorization_code: 300,
  session_idle: 7200,
};

export const DEFAULT_SETTINGS = {
  thin_id_token: { org: false, default: false },
  // Okta documents state as [A-Za-z0-9,._-], yet Pomerium's padded base64 state
  // ('=') works against real Okta, so the check is opt-in.
  strict_state: false,
  login_page_lists_users: true,
  link_header: 'separate', // or 'joined': one comma-joined Link header
  reject_oversize_limit: false, // limit above the maximum: clamp (false) or 400
  duplicate_rate_limit_headers: false, // send each X-Rate-Limit-* header twice
  jwks_max_age: 3832304, // Cache-Control max-age on the JWKS (Okta's example)
};

export function loadSeedFile(path) {
  const size = statSync(path).size;
  if (size > MAX_SEED_BYTES) throw new Error(`seed file ${path} is larger than ${MAX_SEED_BYTES} bytes`);
  const seed = JSON.parse(readFileSync(path, 'utf8'));
  if (!seed || typeof seed !== 'object' || Array.isArray(seed)) throw new Error('seed must be a JSON object');
  return seed;
}

const isUri = (s) => {
  try {
    return Boolean(new URL(s));
  } catch {
    return false;
  }
};

// Builds the simulator's settings from a seed's "settings" section.
export function makeSettings(seedSettings = {}) {
  const s = structuredClone(DEFAULT_SETTINGS);
  const { lifetimes, thin_id_token: thin, ...rest } = seedSettings;
  for (const [k, v] of Object.entries(rest)) {
    if (!(k in DEFAULT_SETTINGS)) throw new Error(`unknown setting ${k}`);
    s[k] = v;
  }
  s.lifetimes = { org: { ...DEFAULT_LIFETIMES }, default: { ...DEFAULT_LIFETIMES } };
  if (lifetimes) applyLifetimes(s, lifetimes);
  if (thin !== undefined) {
    if (typeof thin === 'boolean') s.thin_id_token = { org: thin, default: thin };
    else Object.assign(s.thin_id_token, thin);
  }
  return s;
}

// Applies { access_token, ... } to both servers, or { org: {...}, default: {...} }.
export function applyLifetimes(settings, lifetimes, server = undefined) {
  const perServer = lifetimes.org || lifetimes.default;
  const targets = perServer ? Object.entries(lifetimes) : (server ? [[server, lifetimes]] : [['org', lifetimes], ['default', lifetimes]]);
  for (const [name, values] of targets) {
    if (!settings.lifetimes[name]) throw new TypeError(`unknown server ${name}`);
    for (const [k, v] of Object.entries(values)) {
      if (!(k in DEFAULT_LIFETIMES)) throw new TypeError(`unknown lifetime ${k}; known: ${Object.keys(DEFAULT_LIFETIMES).join(', ')}`);
      if (!Number.isInteger(v) || v < 1 || v > 5 * 365 * 24 * 3600) throw new TypeError(`${k} must be an integer number of seconds (1 s .. 5 years)`);
      settings.lifetimes[name][k] = v;
    }
  }
}

// Turns a seed client into { client_id, metadata (oidc-provider client
// metadata), servers, refresh_token, pkce_required, groups_claim_filter,
// assigned_groups, application_type }.
export function normalizeClient(c, { service = false } = {}) {
  if (!c || typeof c.client_id !== 'string' || !c.client_id) throw new Error('client needs a client_id');
  const type = service ? 'service' : (c.application_type ?? 'web');
  if (!['web', 'browser', 'native', 'service'].includes(type)) throw new Error(`client ${c.client_id}: unknown application_type ${type}`);
  const grantTypes = c.grant_types ?? (type === 'service' ? ['client_credentials'] : ['authorization_code', 'refresh_token']);
  if (type === 'service' && grantTypes.some((g) => g !== 'client_credentials')) {
    throw new Error(`service app ${c.client_id} may only use client_credentials`);
  }
  if (type !== 'service' && grantTypes.includes('client_credentials')) {
    throw new Error(`client ${c.client_id}: only service apps may use client_credentials`);
  }
  const authMethod = c.token_endpoint_auth_method
    ?? (type === 'service' ? 'private_key_jwt' : type === 'web' ? 'client_secret_basic' : 'none');
  if (type === 'service' && authMethod !== 'private_key_jwt') {
    throw new Error(`service app ${c.client_id}: Okta requires private_key_jwt for client credentials`);
  }
  const redirectUris = c.redirect_uris ?? [];
  for (const u of [...redirectUris, ...(c.post_logout_redirect_uris ?? [])]) {
    if (!isUri(u)) throw new Error(`client ${c.client_id}: not an absolute URI: ${u}`);
  }
  const codeFlow = grantTypes.includes('authorization_code');
  const metadata = {
    client_id: c.client_id,
    client_name: c.client_name ?? c.client_id,
    application_type: type === 'native' ? 'native' : 'web',
    grant_types: grantTypes,
    response_types: codeFlow ? ['code'] : [],
    redirect_uris: redirectUris,
    post_logout_redirect_uris: c.post_logout_redirect_uris ?? [],
    token_endpoint_auth_method: authMethod,
    id_token_signed_response_alg: 'RS256',
    require_auth_time: true,
  };
  if (['client_secret_basic', 'client_secret_post', 'client_secret_jwt'].includes(authMethod)) {
    if (typeof c.client_secret !== 'string' || !c.client_secret) throw new Error(`client ${c.client_id} needs a client_secret`);
    metadata.client_secret = c.client_secret;
  }
  if (authMethod === 'private_key_jwt') {
    if (!c.jwks?.keys?.length) throw new Error(`client ${c.client_id}: private_key_jwt needs jwks`);
    metadata.jwks = c.jwks;
  }
  if (type === 'service') metadata.scope = (c.scopes ?? ['okta.users.read', 'okta.groups.read', 'okta.logs.read']).join(' ');
  const rotation = c.refresh_token?.rotation_type ?? (type === 'browser' ? 'ROTATE' : 'STATIC');
  if (!['STATIC', 'ROTATE'].includes(rotation)) throw new Error(`client ${c.client_id}: rotation_type must be STATIC or ROTATE`);
  const leeway = c.refresh_token?.leeway ?? 30;
  if (!Number.isInteger(leeway) || leeway < 0 || leeway > 60) throw new Error(`client ${c.client_id}: leeway must be 0..60`);
  if (c.groups_claim_filter !== undefined) new RegExp(c.groups_claim_filter); // throws on a bad pattern
  return {
    client_id: c.client_id,
    application_type: type,
    metadata,
    servers: type === 'service' ? ['org'] : ['org', 'default'],
    refresh_token: { rotation_type: rotation, leeway },
    pkce_required: c.pkce_required ?? authMethod === 'none',
    groups_claim_filter: c.groups_claim_filter ?? '.*',
    assigned_groups: c.assigned_groups ?? null,
  };
}
