// In-memory storage for one authorization server's oidc-provider models
// (sessions, interactions, grants, codes, tokens, replay-detection records).
//
// Why not oidc-provider's MemoryAdapter: the simulator must (a) keep state when
// it rebuilds a Provider instance (key rotation, client registration),
// (b) revoke everything belonging to one user (deactivate, suspend, session
// clear), and (c) give rotated refresh tokens Okta's reuse leeway.
//
// Contract:
//   - implements oidc-provider's adapter interface (upsert, find, findByUid,
//     findByUserCode, consume, destroy, revokeByGrantId);
//   - expiry follows the simulator clock (Date.now(), see clock.mjs);
//   - a consumed (rotated-out) RefreshToken still reads as unconsumed for
//     `leewaySeconds(clientId)` after its first consumption, so a retry inside
//     Okta's rotation leeway succeeds; later reuse is reported consumed and
//     oidc-provider revokes the whole grant (Okta's reuse detection);
//   - at most MAX_RECORDS records; expired ones are swept when that is reached.

const MAX_RECORDS = 200_000;

export class OidcStore {
  constructor({ leewaySeconds = () => 0 } = {}) {
    this.models = new Map(); // model name -> Map(id -> { payload, expiresAt })
    this.leewaySeconds = leewaySeconds;
    this.count = 0;
  }

  #model(name) {
    let m = this.models.get(name);
    if (!m) {
      m = new Map();
      this.models.set(name, m);
    }
    return m;
  }

  #live(name, id) {
    const m = this.models.get(name);
    const rec = m?.get(id);
    if (!rec) return undefined;
    if (rec.expiresAt !== undefined && rec.expiresAt <= Date.now()) {
      m.delete(id);
      this.count -= 1;
      return undefined;
    }
    return rec;
  }

  #sweep() {
    const now = Date.now();
    for (const m of this.models.values()) {
      for (const [id, rec] of m) {
        if (rec.expiresAt !== undefined && rec.expiresAt <= now) {
          m.delete(id);
          this.count -= 1;
        }
      }
    }
    if (this.count >= MAX_RECORDS) throw new Error('okta-sim OIDC store is full');
  }

  clear() {
    this.models.clear();
    this.count = 0;
  }

  // Deletes every record of `accountId` in the given models (all grant-bearing
  // models and sessions by default). Returns the number of records removed.
  purgeAccount(accountId, names = ['Session', 'Grant', 'AccessToken', 'RefreshToken', 'AuthorizationCode', 'Interaction']) {
    let n = 0;
    for (const name of names) {
      const m = this.models.get(name);
      if (!m) continue;
      for (const [id, rec] of m) {
        const p = rec.payload;
        const owner = p.accountId ?? p.session?.accountId ?? p.result?.login?.accountId;
        if (owner === accountId) {
          m.delete(id);
          this.count -= 1;
          n += 1;
        }
      }
    }
    return n;
  }

  // Iterates live payloads of a model (for the control API's introspection).
  *payloads(name) {
    const m = this.models.get(name);
    if (!m) return;
    const now = Date.now();
    for (const rec of m.values()) {
      if (rec.expiresAt === undefined || rec.expiresAt > now) yield rec.payload;
    }
  }

  // The adapter class handed to oidc-provider's `adapter` option.
  adapterClass() {
    const store = this;
    return class OktaSimAdapter {
      constructor(name) {
        this.name = name;
      }

      async upsert(id, payload, expiresIn) {
        const m = store.#model(this.name);
        if (!m.has(id)) {
          if (store.count >= MAX_RECORDS) store.#sweep();
          store.count += 1;
        }
        m.set(id, {
          payload: structuredClone(payload),
          expiresAt: typeof expiresIn === 'number' ? Date.now() + expiresIn * 1000 : undefined,
        });
      }

      async find(id) {
        const rec = store.#live(this.name, id);
        if (!rec) return undefined;
        const payload = structuredClone(rec.payload);
        if (this.name === 'RefreshToken' && payload.consumed) {
          const leeway = store.leewaySeconds(payload.clientId);
          const consumedAt = typeof payload.consumed === 'number' ? payload.consumed : 0;
          if (leeway > 0 && Date.now() / 1000 - consumedAt <= leeway) delete payload.consumed;
        }
        return payload;
      }

      async findByUid(uid) {
        const m = store.models.get(this.name);
        if (!m) return undefined;
        for (const [id, rec] of m) {
          if (rec.payload.uid === uid) return this.find(id);
        }
        return undefined;
      }

      async findByUserCode(userCode) {
        const m = store.models.get(this.name);
        if (!m) return undefined;
        for (const [id, rec] of m) {
          if (rec.payload.userCode === userCode) return this.find(id);
        }
        return undefined;
      }

      // Keeps the first consumption time, so the leeway is measured from the
      // first rotation and a retry inside the leeway does not extend it.
      async consume(id) {
        const rec = store.#live(this.name, id);
        if (rec && !rec.payload.consumed) rec.payload.consumed = Math.floor(Date.now() / 1000);
      }

      async destroy(id) {
        const m = store.models.get(this.name);
        if (m?.delete(id)) store.count -= 1;
      }

      async revokeByGrantId(grantId) {
        for (const m of store.models.values()) {
          for (const [id, rec] of m) {
            if (rec.payload.grantId === grantId) {
              m.delete(id);
              store.count -= 1;
            }
          }
        }
      }
    };
  }
}
