// Okta-shaped identifiers. Okta object ids are 20 characters: a 3-character type
// prefix (`00u` user, `00g` group, `0oa` app/client, `00o` org, `oty` user
// type, `aus` authorization server) followed by 17 alphanumerics.

import { randomBytes, randomUUID, createHmac } from 'node:crypto';

const ALNUM = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';

export function randomAlnum(n) {
  // rejection sampling keeps the distribution uniform (62 does not divide 256)
  let out = '';
  while (out.length < n) {
    for (const b of randomBytes(n * 2)) {
      if (b < 248 && out.length < n) out += ALNUM[b % 62];
    }
  }
  return out;
}

export function oktaId(prefix) {
  if (prefix.length !== 3) throw new Error(`okta id prefix must be 3 characters: ${prefix}`);
  return prefix + randomAlnum(17);
}

export const isOktaId = (s, prefix) => typeof s === 'string' && s.length === 20 && s.startsWith(prefix) && /^[A-Za-z0-9]+$/.test(s);

// X-Okta-Request-Id values look like `WrTk6rk3qvXQdGpT8jRu4gAAAJE` (27 chars).
export function requestId() {
  return randomBytes(20).toString('base64url').slice(0, 27);
}

// errorId values look like `oae3iIXhkQVQ2izGNwhnR47JQ`.
export function errorId() {
  return `oae${randomAlnum(22)}`;
}

export { randomUUID as uuid };

// Opaque, tamper-evident cursors for `after=`: base64url(JSON) + '.' + HMAC.
// The key lives only in this process, so cursors are unguessable and a forged or
// edited one is detected (callers answer 400 E0000001).
const CURSOR_KEY = randomBytes(32);

export function sealCursor(obj) {
  const body = Buffer.from(JSON.stringify(obj)).toString('base64url');
  const mac = createHmac('sha256', CURSOR_KEY).update(body).digest('base64url').slice(0, 16);
  return `${body}.${mac}`;
}

// Returns the sealed object, or undefined when the cursor is malformed or forged.
export function openCursor(cursor) {
  if (typeof cursor !== 'string' || cursor.length > 2048) return undefined;
  const dot = cursor.lastIndexOf('.');
  if (dot <= 0) return undefined;
  const body = cursor.slice(0, dot);
  const mac = createHmac('sha256', CURSOR_KEY).update(body).digest('base64url').slice(0, 16);
  if (mac !== cursor.slice(dot + 1)) return undefined;
  try {
    return JSON.parse(Buffer.from(body, 'base64url').toString('utf8'));
  } catch {
    return undefined;
  }
}
