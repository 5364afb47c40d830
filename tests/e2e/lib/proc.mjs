// Child-process bookkeeping shared by the harness: every process we spawn is killed when the test process
// exits (a safety net; tests stop their processes themselves in `after` hooks), every temp dir is removed.

import fs from 'node:fs';

const children = new Set();
const dirs = new Set();

const closed = new WeakMap(); // child → { code, signal } once its stdio has closed too

export function trackChild(child) {
  children.add(child);
  child.once('exit', () => children.delete(child));
  child.once('close', (code, signal) => closed.set(child, { code, signal }));
  return child;
}

export function registerCleanupDir(dir) {
  dirs.add(dir);
}

process.once('exit', () => {
  for (const c of children) {
    try {
      c.kill('SIGKILL');
    } catch {}
  }
  if (!process.env.POSTERN_E2E_KEEP_TMP) {
    for (const d of dirs) {
      try {
        fs.rmSync(d, { recursive: true, force: true });
      } catch {}
    }
  }
});

/** Minimal environment for a child: no inherited settings that Postern would read as config. */
export function baseEnv() {
  const env = {};
  for (const k of ['PATH', 'HOME', 'TMPDIR', 'LANG', 'LC_ALL', 'ASAN_OPTIONS', 'UBSAN_OPTIONS', 'LSAN_OPTIONS']) {
    if (process.env[k] !== undefined) env[k] = process.env[k];
  }
  return env;
}

/**
 * Resolves { code, signal } when the child has exited AND its stdout/stderr have been read to the end ('close', not
 * 'exit': after 'exit' the last output may still be in the pipe). The child must have gone through trackChild.
 */
export function exitOf(child) {
  if (closed.has(child)) return Promise.resolve(closed.get(child));
  return new Promise((resolve) => child.once('close', (code, signal) => resolve({ code, signal })));
}
