// Okta-style per-minute rate limits and test-injected faults.
//
// Contract:
//   - a request path maps to at most one bucket (first match in BUCKETS);
//     discovery, JWKS, the login page and /__sim/ are never limited;
//   - each bucket has a 60 s window that opens at the first request after the
//     previous window closed (windows are not aligned to clock minutes);
//   - every limited response carries X-Rate-Limit-Limit, -Remaining and -Reset
//     (Reset = epoch seconds when the window closes, on the simulator clock);
//   - once `limit` requests were admitted in a window the next ones get 429
//     E0000047 with Remaining 0 until Reset; there is no Retry-After header;
//   - faults: "the next N requests whose path starts with P get status S",
//     consumed in order, checked before the budget. A 429 fault with
//     `concurrency: true` answers like Okta's concurrency limiter (Limit 0).
// Buckets are per path pattern only, not per token or per client (see README).

import { nowMs } from './clock.mjs';

// Default limits: Okta's Workforce column (okta.md §3).
export const BUCKETS = [
  { name: '/api/v1/users', re: /^\/api\/v1\/users\/?$/, limit: 600 },
  { name: '/api/v1/users/{id}', re: /^\/api\/v1\/users\/[^/]+\/?$/, limit: 2000 },
  { name: '/api/v1/groups', re: /^\/api\/v1\/groups\/?$/, limit: 500 },
  { name: '/api/v1/groups/{id}', re: /^\/api\/v1\/groups\/[^/]+(?:\/.*)?$/, limit: 1000 },
  { name: '/api/v1/logs', re: /^\/api\/v1\/logs\/?$/, limit: 120 },
  { name: '/api/v1', re: /^\/api\/v1\//, limit: 1200 },
  { name: '/oauth2/v1/authorize', re: /^\/oauth2\/(?:[^/]+\/)?v1\/authorize(?:\/.*)?$/, limit: 2000 },
  { name: '/oauth2/v1/token', re: /^\/oauth2\/(?:[^/]+\/)?v1\/token$/, limit: 2000 },
  { name: '/oauth2/v1', re: /^\/oauth2\/(?:[^/]+\/)?v1\/(?:userinfo|introspect|revoke|logout)$/, limit: 2000 },
];

const WINDOW_MS = 60_000;
const MAX_FAULTS = 1000;

export class RateLimiter {
  constructor() {
    this.reset();
  }

  reset() {
    this.limits = new Map(BUCKETS.map((b) => [b.name, b.limit]));
    this.windows = new Map(); // bucket name -> { start, used }
    this.faults = []; // { prefix, status, remaining, method, concurrency }
  }

  bucketFor(pathname) {
    return BUCKETS.find((b) => b.re.test(pathname));
  }

  // Sets the per-minute budget of one bucket (by name) or of all buckets.
  // Opens fresh windows so the new budget applies immediately.
  setLimit(limit, bucketName = undefined) {
    if (!Number.isInteger(limit) || limit < 0) throw new TypeError('limit must be a non-negative integer');
    if (bucketName !== undefined) {
      if (!this.limits.has(bucketName)) throw new TypeError(`unknown bucket ${bucketName}; known: ${[...this.limits.keys()].join(', ')}`);
      this.limits.set(bucketName, limit);
      this.windows.delete(bucketName);
    } else {
      for (const k of this.limits.keys()) this.limits.set(k, limit);
      this.windows.clear();
    }
  }

  describe() {
    const now = nowMs();
    return BUCKETS.map((b) => {
      const w = this.windows.get(b.name);
      const open = w && now < w.start + WINDOW_MS;
      return {
        bucket: b.name,
        limit: this.limits.get(b.name),
        used: open ? w.used : 0,
        reset: open ? Math.ceil((w.start + WINDOW_MS) / 1000) : null,
      };
    });
  }

  addFault({ path_prefix: prefix, status, count = 1, method, concurrency = false }) {
    if (typeof prefix !== 'string' || !prefix.startsWith('/')) throw new TypeError('path_prefix must start with /');
    if (![429, 500, 502, 503, 504].includes(status)) throw new TypeError('status must be one of 429, 500, 502, 503, 504');
    if (!Number.isInteger(count) || count < 1 || count > 10000) throw new TypeError('count must be an integer 1..10000');
    if (this.faults.length >= MAX_FAULTS) throw new TypeError('too many faults queued');
    this.faults.push({ prefix, status, remaining: count, method: method?.toUpperCase(), concurrency: !!concurrency });
  }

  // Takes one injected fault matching the request, if any.
  takeFault(method, pathname) {
    const f = this.faults.find((x) => pathname.startsWith(x.prefix) && (!x.method || x.method === method));
    if (!f) return undefined;
    f.remaining -= 1;
    if (f.remaining <= 0) this.faults.splice(this.faults.indexOf(f), 1);
    return f;
  }

  // Admits or refuses one request. Returns undefined for unlimited paths, else
  // { bucket, limited, headers } where headers are the X-Rate-Limit-* values.
  admit(pathname) {
    const bucket = this.bucketFor(pathname);
    if (!bucket) return undefined;
    const now = nowMs();
    const limit = this.limits.get(bucket.name);
    let w = this.windows.get(bucket.name);
    if (!w || now >= w.start + WINDOW_MS) {
      w = { start: now, used: 0 };
      this.windows.set(bucket.name, w);
    }
    const reset = Math.ceil((w.start + WINDOW_MS) / 1000);
    if (w.used >= limit) {
      return { bucket: bucket.name, limited: true, headers: { limit, remaining: 0, reset } };
    }
    w.used += 1;
    return { bucket: bucket.name, limited: false, headers: { limit, remaining: limit - w.used, reset } };
  }

  // Headers for a concurrency-limit 429: Limit 0, Remaining 0, estimated Reset.
  static concurrencyHeaders() {
    return { limit: 0, remaining: 0, reset: Math.ceil(nowMs() / 1000) + 60 };
  }
}
