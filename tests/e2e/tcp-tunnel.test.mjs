// TCP tunnels (issue 14): a route `from: tcp+https://db.example.test:5432` served as HTTP CONNECT on the main
// listener, authorised like any route (`Authorization: Pomerium <token>`, as pomerium-cli sends it, or the session
// cookie), then bytes both ways through an echo server; 407 without a session, 403 when policy denies, 404 for a
// host:port no route names; the tunnel ends when the session does.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { sleep } from './lib/index.mjs';
import { startSignInEnv, Browser, signIn, describeHops, stopAll, USERS } from './lib/signin.mjs';

let echo, echoPort, env;
before(async () => {
  echo = net.createServer((s) => s.pipe(s));
  await new Promise((r) => echo.listen(0, '127.0.0.1', r));
  echoPort = echo.address().port;
  env = await startSignInEnv({
    routes: (u) => [
      { from: 'tcp+https://db.example.test:5432', to: `tcp://127.0.0.1:${echoPort}`, allow_any_authenticated_user: true },
      { from: 'tcp+https://admin-db.example.test:5432', to: `tcp://127.0.0.1:${echoPort}`, allowed_users: ['bob@example.com'] },
      { from: 'http://127.0.0.1', to: u.origin, allow_any_authenticated_user: true },
    ],
  });
});
after(() => stopAll(env?.stop, () => new Promise((r) => echo.close(r))));

/** Opens a CONNECT to Postern; resolves { status, socket, head } once the response head arrived. */
function connect(authority, headers = {}) {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port: env.port });
    let buf = Buffer.alloc(0);
    socket.once('error', reject);
    socket.on('connect', () => {
      const lines = [`CONNECT ${authority} HTTP/1.1`, `Host: ${authority}`, ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`)];
      socket.write(lines.join('\r\n') + '\r\n\r\n');
    });
    const onData = (d) => {
      buf = Buffer.concat([buf, d]);
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      socket.off('data', onData);
      const head = buf.subarray(0, end).toString();
      const rest = buf.subarray(end + 4);
      resolve({ status: Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1]), head, socket, rest });
    };
    socket.on('data', onData);
  });
}

function roundTrip(socket, text) {
  return new Promise((resolve, reject) => {
    let got = '';
    const timer = setTimeout(() => reject(new Error(`no echo of ${text}; got ${got}`)), 3000);
    const onData = (d) => {
      got += d;
      if (got.length >= text.length) {
        clearTimeout(timer);
        socket.off('data', onData);
        resolve(got);
      }
    };
    socket.on('data', onData);
    socket.write(text);
  });
}

async function token(user) {
  const b = new Browser();
  const r = await signIn(b, `${env.route}/start`, user.login, user.password);
  const value = b.cookie('127.0.0.1', '_pomerium');
  assert.ok(value, describeHops(r.hops));
  return value;
}

describe('TCP tunnels over CONNECT', () => {
  it('tunnels bytes both ways for a signed-in client (Authorization: Pomerium or the cookie)', async () => {
    const t = await token(USERS.alice);
    const a = await connect('db.example.test:5432', { Authorization: `Pomerium ${t}` });
    assert.equal(a.status, 200, a.head);
    assert.equal(await roundTrip(a.socket, 'ping over the tunnel\n'), 'ping over the tunnel\n');
    const big = 'x'.repeat(200_000);
    assert.equal((await roundTrip(a.socket, big)).length, big.length, 'no length limit');
    a.socket.destroy();
    const b = await connect('db.example.test:5432', { Cookie: `_pomerium=${t}` });
    assert.equal(b.status, 200, b.head);
    assert.equal(await roundTrip(b.socket, 'again\n'), 'again\n');
    b.socket.destroy();
  });

  it('answers 407 without a session, 403 when policy denies, 404 for a host:port no route names', async () => {
    const anonymous = await connect('db.example.test:5432');
    assert.equal(anonymous.status, 407, anonymous.head);
    assert.match(anonymous.head, /Proxy-Authenticate: Pomerium/i);
    anonymous.socket.destroy();
    const t = await token(USERS.alice);
    const denied = await connect('admin-db.example.test:5432', { Authorization: `Pomerium ${t}` });
    assert.equal(denied.status, 403, denied.head);
    denied.socket.destroy();
    const unknown = await connect('db.example.test:5433', { Authorization: `Pomerium ${t}` });
    assert.equal(unknown.status, 404, unknown.head);
    unknown.socket.destroy();
    const bob = await connect('admin-db.example.test:5432', { Authorization: `Pomerium ${await token(USERS.bob)}` });
    assert.equal(bob.status, 200, bob.head);
    bob.socket.destroy();
  });

  it('ends the tunnel when the session ends (sign-out)', async () => {
    const b = new Browser();
    await signIn(b, `${env.route}/start`, USERS.carol.login, USERS.carol.password);
    const t = b.cookie('127.0.0.1', '_pomerium');
    const tunnel = await connect('db.example.test:5432', { Authorization: `Pomerium ${t}` });
    assert.equal(tunnel.status, 200);
    assert.equal(await roundTrip(tunnel.socket, 'before\n'), 'before\n');
    const closed = new Promise((r) => tunnel.socket.once('close', r));
    // Sign out: the route's sign_out, then the signed link on the authenticate host.
    let url = `${env.route}/.pomerium/sign_out`;
    for (let i = 0; i < 3; i++) {
      const res = await b.fetch(url);
      if (res.status !== 302) break;
      url = new URL(res.headers.location, url).toString();
      if (!url.includes(`:${env.port}/`)) break;
    }
    const start = Date.now();
    await Promise.race([closed, sleep(5000).then(() => { throw new Error('the tunnel outlived its session'); })]);
    assert.ok(Date.now() - start < 3000, `closed after ${Date.now() - start} ms`);
  });
});
