// A private PostgreSQL cluster for one test file: initdb into a temp dir, a loopback port, trust authentication,
// pg_ctl to start, stop and restart it. No system service and no root: when the tests run as root (CI containers),
// the cluster runs as Debian's `postgres` user through runuser, because initdb refuses root.
//
//   const pg = await startPostgres();
//   pg.url                      // postgresql://postgres@127.0.0.1:PORT/postgres
//   await pg.sql('SELECT 1')    // psql -At: the output, trimmed
//   await pg.restart(); await pg.stop();

import { execFile, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { unusedPort } from './postern.mjs';
import { registerCleanupDir } from './proc.mjs';

const run = promisify(execFile);

function binDir() {
  const root = '/usr/lib/postgresql';
  const versions = fs.existsSync(root) ? fs.readdirSync(root).filter((v) => /^\d+$/.test(v)).sort((a, b) => b - a) : [];
  for (const v of versions) {
    const dir = path.join(root, v, 'bin');
    if (fs.existsSync(path.join(dir, 'initdb'))) return dir;
  }
  return null;
}

/** Whether this machine can run a private cluster (Debian's postgresql package: scripts/install-deps.sh). */
export function postgresAvailable() {
  return binDir() !== null;
}

const running = new Set();
process.once('exit', () => {
  for (const pg of running) {
    try {
      execFileSync(...pg.command('pg_ctl', ['-D', pg.data, '-m', 'immediate', 'stop']), { stdio: 'ignore' });
    } catch {}
  }
});

export async function startPostgres() {
  const bin = binDir();
  if (!bin) throw new Error('PostgreSQL is not installed (scripts/install-deps.sh installs Debian\'s postgresql)');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'postern-pg-'));
  registerCleanupDir(dir);
  const asRoot = process.getuid?.() === 0;
  if (asRoot) {
    const uid = Number(execFileSync('id', ['-u', 'postgres']).toString().trim());
    const gid = Number(execFileSync('id', ['-g', 'postgres']).toString().trim());
    fs.chownSync(dir, uid, gid);
  }
  const port = await unusedPort();
  const pg = {
    dir,
    data: path.join(dir, 'data'),
    port,
    url: `postgresql://postgres@127.0.0.1:${port}/postgres`,
    command(tool, args) {
      const exe = path.join(bin, tool);
      return asRoot ? ['runuser', ['-u', 'postgres', '--', exe, ...args]] : [exe, args];
    },
    async tool(tool, args, opts = {}) {
      const [file, argv] = pg.command(tool, args);
      return run(file, argv, { timeout: 60_000, ...opts });
    },
    async start() {
      await pg.tool('pg_ctl', ['-D', pg.data, '-l', path.join(dir, 'server.log'), '-w', '-t', '30', '-o',
        `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off`,
        'start']);
      running.add(pg);
    },
    async stop(mode = 'fast') {
      running.delete(pg);
      await pg.tool('pg_ctl', ['-D', pg.data, '-m', mode, '-w', '-t', '30', 'stop']).catch(() => {});
    },
    async restart() {
      await pg.stop();
      await pg.start();
    },
    /** Runs SQL with psql; resolves its unaligned, tuples-only output. */
    async sql(text) {
      const { stdout } = await run(path.join(bin, 'psql'), ['-h', '127.0.0.1', '-p', String(port), '-U', 'postgres',
        '-d', 'postgres', '-v', 'ON_ERROR_STOP=1', '-Atc', text], { timeout: 30_000 });
      return stdout.trim();
    },
    log() {
      try {
        return fs.readFileSync(path.join(dir, 'server.log'), 'utf8');
      } catch {
        return '';
      }
    },
  };
  await pg.tool('initdb', ['-D', pg.data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--no-sync', '--no-instructions']);
  await pg.start();
  return pg;
}
