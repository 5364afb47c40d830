// The simulator's clock: real time plus an offset that tests move forward with
// POST /__sim/clock.
//
// How the offset reaches oidc-provider and jose: neither has a clock option.
// oidc-provider reads time only through `Date.now()` (its epochTime helper, its
// LRU caches, its models) and jose through `new Date()`. So install() replaces
// the process-wide `Date` with a Proxy that adds the offset to `Date.now()`,
// `new Date()` and `Date()`; `new Date(x)`, `Date.parse` and `Date.UTC` are
// untouched. This is the same technique as time-travel libraries (timekeeper,
// @sinonjs/fake-timers with toFake: ['Date']) and the only one that moves every
// TTL at once: codes, tokens, sessions, interactions, client-assertion `exp`,
// rate-limit windows, System Log `published`, and the HTTP `Date` header (which
// the simulator sets itself, since Node's own Date header ignores the shim).
//
// What does NOT follow the injected clock (documented in README.md):
//   - timers (setTimeout/setInterval) and performance.now()/process.hrtime();
//     the simulator uses none of them for expiry;
//   - the browser's own cookie expiry (cookies carry `expires` computed from the
//     shifted clock, which only makes them live longer in a real browser; the
//     server-side records they point to do expire on the shifted clock);
//   - anything in another process (the proxy under test keeps real time, so a
//     test that advances the clock must expect the RP to see tokens with `iat`
//     in its future).
//
// The shim is process-wide: embedding the simulator in a test process shifts
// that process's Date too. The test suite therefore runs it as a child process.

const RealDate = globalThis.Date;
let offsetMs = 0;
let installed = false;

export function nowMs() {
  return RealDate.now() + offsetMs;
}

export function nowSec() {
  return Math.floor(nowMs() / 1000);
}

// Okta's timestamp format: YYYY-MM-DDTHH:mm:ss.SSSZ
export function iso(ms = nowMs()) {
  return new RealDate(ms).toISOString();
}

export function httpDate(ms = nowMs()) {
  return new RealDate(ms).toUTCString();
}

export function offsetSeconds() {
  return offsetMs / 1000;
}

// Moves the clock forward (or back, with a negative value) by `seconds`.
export function advance(seconds) {
  if (!Number.isFinite(seconds)) throw new TypeError('seconds must be a finite number');
  offsetMs += Math.round(seconds * 1000);
  return nowMs();
}

// Sets the clock so that now == `ms` (epoch milliseconds).
export function setNow(ms) {
  if (!Number.isFinite(ms)) throw new TypeError('time must be a finite number');
  offsetMs = Math.round(ms - RealDate.now());
  return nowMs();
}

export function resetClock() {
  offsetMs = 0;
}

export function install() {
  if (installed) return;
  installed = true;
  const SimDate = new Proxy(RealDate, {
    construct(target, args, newTarget) {
      return Reflect.construct(target, args.length ? args : [nowMs()], newTarget);
    },
    apply() {
      // Date() called as a function returns the current time as a string
      return new RealDate(nowMs()).toString();
    },
    get(target, prop, receiver) {
      if (prop === 'now') return nowMs;
      return Reflect.get(target, prop, receiver);
    },
  });
  globalThis.Date = SimDate;
}
