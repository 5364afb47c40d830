// Deliberate protocol defects for negative relying-party tests ("next ID token
// defect"), queued with POST /__sim/misbehave, and the ID token re-signing that
// applies them.
//
// Contract:
//   - a queued defect applies to the next `count` matching artefacts (default
//     1), optionally only on one server and/or for one client, then is gone;
//   - ID token defects apply to ID tokens in token responses (authorization
//     code and refresh grants); `userinfo_sub_mismatch` to the next successful
//     userinfo response; `discovery_issuer_mismatch` to the next discovery
//     document (its issuer gets a trailing slash);
//   - every defective ID token is otherwise genuine: same claims, signed with the
//     server's current key unless the defect is about the signature.

import { createHash, randomBytes } from 'node:crypto';

import { SignJWT, UnsecuredJWT, decodeJwt } from 'jose';

import { nowSec } from './clock.mjs';

export const ID_TOKEN_DEFECTS = {
  wrong_iss: 'iss is the issuer plus /wrong-issuer',
  wrong_aud: 'aud is "some-other-client"',
  missing_sub: 'no sub claim',
  missing_iat: 'no iat claim',
  expired: 'iat 2 h and exp 1 h in the past',
  future_iat: 'iat 1 h in the future',
  wrong_nonce: 'nonce is a random value',
  alg_none: 'unsigned JWT with alg "none"',
  hs256_client_secret: 'HS256, HMAC keyed with the client secret',
  unknown_kid: 'RS256 with a key and kid not in the JWKS',
  bad_signature: 'RS256 with the right kid but a corrupted signature',
};

export const OTHER_DEFECTS = {
  userinfo_sub_mismatch: 'userinfo answers with a different sub',
  discovery_issuer_mismatch: 'discovery issuer has a trailing slash',
};

export const DEFECTS = new Set([...Object.keys(ID_TOKEN_DEFECTS), ...Object.keys(OTHER_DEFECTS)]);

export class DefectQueue {
  constructor(serverNames) {
    this.serverNames = serverNames;
    this.items = []; // { defect, server, client_id, remaining }
  }

  clear() {
    this.items = [];
  }

  add({ defect, server, client_id: clientId, count = 1 }) {
    if (!DEFECTS.has(defect)) throw new TypeError(`unknown defect; one of: ${[...DEFECTS].join(', ')}`);
    if (server !== undefined && !this.serverNames.includes(server)) {
      throw new TypeError(`server must be one of ${this.serverNames.join(', ')}`);
    }
    if (!Number.isInteger(count) || count < 1 || count > 1000) throw new TypeError('count must be an integer 1..1000');
    this.items.push({ defect, server, client_id: clientId, remaining: count });
  }

  // Takes one queued defect. kind: 'id_token' (any ID token defect) or the
  // name of one of OTHER_DEFECTS. Returns the defect name or undefined.
  take(kind, server, clientId = undefined) {
    const d = this.items.find((x) => (kind === 'id_token' ? x.defect in ID_TOKEN_DEFECTS : x.defect === kind)
      && (!x.server || x.server === server)
      && (!x.client_id || !clientId || x.client_id === clientId));
    if (!d) return undefined;
    d.remaining -= 1;
    if (d.remaining <= 0) this.items.splice(this.items.indexOf(d), 1);
    return d.defect;
  }
}

const sha256half = (value) => {
  const h = createHash('sha256').update(value).digest();
  return h.subarray(0, h.length / 2).toString('base64url');
};

// Re-signs `idToken` with the server's current key (`keys`: a KeySet), after
// recomputing at_hash for `accessToken` (when given) and applying `defect`.
export async function resignIdToken(idToken, keys, { accessToken, defect, clientSecret } = {}) {
  const claims = decodeJwt(idToken);
  if (accessToken && claims.at_hash) claims.at_hash = sha256half(accessToken);
  const now = nowSec();
  let header = { alg: 'RS256', kid: keys.current.kid };
  let key = keys.current.keyObject;
  switch (defect) {
    case undefined: break;
    case 'wrong_iss': claims.iss = `${claims.iss}/wrong-issuer`; break;
    case 'wrong_aud': claims.aud = 'some-other-client'; break;
    case 'missing_sub': delete claims.sub; break;
    case 'missing_iat': delete claims.iat; break;
    case 'expired':
      claims.iat = now - 7200;
      claims.exp = now - 3600;
      claims.auth_time = now - 7200;
      break;
    case 'future_iat':
      claims.iat = now + 3600;
      claims.exp = now + 7200;
      break;
    case 'wrong_nonce': claims.nonce = randomBytes(16).toString('base64url'); break;
    case 'alg_none': return new UnsecuredJWT(claims).encode();
    case 'hs256_client_secret':
      header = { alg: 'HS256' };
      key = new TextEncoder().encode(clientSecret ?? 'no-client-secret');
      break;
    case 'unknown_kid': {
      const stray = await keys.strayKey();
      header = { alg: 'RS256', kid: stray.kid };
      key = stray.keyObject;
      break;
    }
    case 'bad_signature': break;
    default: throw new Error(`unknown ID token defect ${defect}`);
  }
  let jwt = await new SignJWT(claims).setProtectedHeader(header).sign(key);
  if (defect === 'bad_signature') {
    const [h, p, s] = jwt.split('.');
    const sig = Buffer.from(s, 'base64url');
    sig[0] ^= 0xff;
    jwt = `${h}.${p}.${sig.toString('base64url')}`;
  }
  return jwt;
}
