// Start the sample upstream (../upstream/server.mjs) as a child process, like a real app behind Postern.
//
//   const up = await startUpstream({ t });              // up.origin = 'http://127.0.0.1:PORT'
//   const tlsUp = await startUpstream({ tls: pki.server, name: 'secure', t });   // https://127.0.0.1:PORT

import net from 'node:net';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { trackChild, baseEnv, exitOf } from './proc.mjs';

export const UPSTREAM_SERVER = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../upstream/server.mjs');

export { patternBytes, patternSha256 } from '../upstream/server.mjs';

/**
 * Resolves { port, origin, url(path), name, stop(), child, stderr() }. `tls` = { certFile, keyFile };
 * `keepAliveTimeoutMs`: the upstream closes idle keep-alive connections after this long (default 30 s).
 */
export async function startUpstream({ tls, name = '', t, host = '127.0.0.1', keepAliveTimeoutMs, timeoutMs = 10_000 } = {}) {
  const args = [UPSTREAM_SERVER, '--port', '0', '--host', host];
  if (tls) args.push('--tls-cert', tls.certFile, '--tls-key', tls.keyFile);
  if (name) args.push('--name', name);
  if (keepAliveTimeoutMs !== undefined) args.push('--keep-alive-timeout', String(keepAliveTimeoutMs));
  const child = trackChild(spawn(process.execPath, args, { env: baseEnv(), stdio: ['ignore', 'pipe', 'pipe'] }));
  let out = '';
  let err = '';
  child.stderr.on('data', (d) => (err += d));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
    await exitOf(child);
    clearTimeout(timer);
  };
  if (t) t.after(stop);
  const line = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`upstream did not start in ${timeoutMs} ms: ${err}`)), timeoutMs);
    child.stdout.on('data', (d) => {
      out += d;
      const m = /^upstream listening on (https?):\/\/([^\s]+):(\d+)\n/m.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`upstream exited (${code}) before listening: ${err}`));
    });
  });
  const port = Number(line[3]);
  const origin = `${line[1]}://${line[2]}:${port}`;
  return { port, origin, url: (p = '/') => origin + p, name, stop, child, stderr: () => err, stdout: () => out };
}

/**
 * A misbehaving upstream in this process: a raw TCP server on 127.0.0.1 whose every connection goes to
 * `onConnection(socket)` (socket errors are ignored). Resolves with { port, origin, stop() }.
 */
export async function startRawUpstream(onConnection) {
  const server = net.createServer((sock) => {
    sock.on('error', () => {});
    onConnection(sock);
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  return {
    port,
    origin: `http://127.0.0.1:${port}`,
    stop: () => new Promise((resolve) => server.close(resolve)),
  };
}
