// Signing keys of one authorization server.
//
// Contract:
//   - `current` signs every ID token (and custom-server access token);
//   - the JWKS publishes current, then the pre-published `next` key (if any),
//     then up to two `previous` keys; like Okta's, the order means nothing;
//   - rotate('prepublish') publishes a next key without signing with it yet;
//     rotate('rotate') makes next (or a fresh key) current and keeps the old one
//     published; rotate('instant') does the same but drops every old key from the
//     JWKS at once (emergency rotation: RPs meet an unknown kid and must refetch);
//   - `stray` is a key never published, used for the unknown-kid defect.

import { generateKeyPair as generateKeyPairCb, createPublicKey } from 'node:crypto';
import { promisify } from 'node:util';

import { calculateJwkThumbprint } from 'jose';

const generateKeyPair = promisify(generateKeyPairCb);
const MAX_PREVIOUS = 2;

async function newKey() {
  const { privateKey } = await generateKeyPair('rsa', { modulusLength: 2048 });
  const jwk = privateKey.export({ format: 'jwk' });
  const kid = await calculateJwkThumbprint({ kty: jwk.kty, e: jwk.e, n: jwk.n });
  return { kid, privateJwk: { ...jwk, kid, alg: 'RS256', use: 'sig' }, keyObject: privateKey };
}

const publicPart = ({ privateJwk: { kty, alg, kid, use, e, n } }) => ({ kty, alg, kid, use, e, n });

export class KeySet {
  static async create() {
    const ks = new KeySet();
    ks.current = await newKey();
    ks.next = null;
    ks.previous = [];
    ks.stray = null;
    return ks;
  }

  publicJwks() {
    return { keys: [this.current, this.next, ...this.previous].filter(Boolean).map(publicPart) };
  }

  // The private JWK oidc-provider signs with.
  signingJwk() {
    return this.current.privateJwk;
  }

  // Public KeyObject of a published key (current, next, previous), for
  // verifying tokens this server signed; undefined for unknown kids.
  publicKey(kid) {
    const k = [this.current, this.next, ...this.previous].find((x) => x && x.kid === kid);
    return k ? createPublicKey(k.keyObject) : undefined;
  }

  async strayKey() {
    this.stray ??= await newKey();
    return this.stray;
  }

  async rotate(mode = 'rotate') {
    switch (mode) {
      case 'prepublish':
        this.next = await newKey();
        break;
      case 'rotate':
      case 'instant': {
        const incoming = this.next ?? await newKey();
        const outgoing = this.current;
        this.current = incoming;
        this.next = null;
        this.previous = mode === 'instant' ? [] : [outgoing, ...this.previous].slice(0, MAX_PREVIOUS);
        break;
      }
      default:
        throw new TypeError("mode must be 'prepublish', 'rotate' or 'instant'");
    }
    return this.describe();
  }

  describe() {
    return {
      signing_kid: this.current.kid,
      next_kid: this.next?.kid ?? null,
      previous_kids: this.previous.map((k) => k.kid),
      published_kids: this.publicJwks().keys.map((k) => k.kid),
    };
  }
}

