// Forward-auth (forward_auth_url, issue 14): Debian's nginx in front of an app asks Postern's /verify with
// auth_request on every request; a browser without a session is sent to sign in (nginx redirects to the URL Postern
// names in X-Auth-Redirect), the sign-in ends at the app host's /.pomerium/callback/ (nginx passes /.pomerium/ to
// Postern), which sets the route cookie, so the next request through nginx passes with the identity assertion.
// Also: 403 when policy denies, X-Forwarded-Uri (Traefik, Caddy), and no route → 403.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { unusedPort, sleep, request } from './lib/index.mjs';
import { trackChild, registerCleanupDir, exitOf } from './lib/proc.mjs';
import { startSignInEnv, Browser, signIn, describeHops, echoOf, decodeJwt, stopAll, USERS } from './lib/signin.mjs';

const NGINX = ['/usr/sbin/nginx', '/usr/bin/nginx'].find((p) => fs.existsSync(p));

/** nginx (daemon off, its own prefix in a temp dir) serving app.example.test behind Postern's /verify. */
async function startNginx({ port, posternPort, upstream }) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'postern-nginx-'));
  registerCleanupDir(dir);
  fs.mkdirSync(path.join(dir, 'logs'));
  const conf = `
worker_processes 1;
daemon off;
pid ${dir}/nginx.pid;
error_log ${dir}/logs/error.log warn;
events { worker_connections 256; }
http {
  access_log off;
  client_body_temp_path ${dir}/body; proxy_temp_path ${dir}/proxy; fastcgi_temp_path ${dir}/fcgi;
  uwsgi_temp_path ${dir}/uwsgi; scgi_temp_path ${dir}/scgi;
  server {
    listen 127.0.0.1:${port};
    server_name app.example.test;
    # Postern decides for every request.
    location = /_postern_verify {
      internal;
      proxy_pass http://127.0.0.1:${posternPort}/verify;
      proxy_pass_request_body off;
      proxy_set_header Content-Length "";
      proxy_set_header Host fwd.example.test:${posternPort};
      proxy_set_header X-Original-URL http://$http_host$request_uri;
      proxy_set_header X-Original-Method $request_method;
    }
    # Sign-in ends here: Postern sets the route cookie for this host.
    location /.pomerium/ {
      proxy_pass http://127.0.0.1:${posternPort};
      proxy_set_header Host $http_host;
    }
    location @signin { return 302 $auth_redirect; }
    location / {
      auth_request /_postern_verify;
      auth_request_set $auth_redirect $upstream_http_x_auth_redirect;
      auth_request_set $assertion $upstream_http_x_pomerium_jwt_assertion;
      error_page 401 = @signin;
      proxy_set_header X-Pomerium-Jwt-Assertion $assertion;
      proxy_set_header Host $http_host;
      proxy_pass ${upstream};
    }
  }
}
`;
  fs.writeFileSync(path.join(dir, 'nginx.conf'), conf);
  const child = trackChild(spawn(NGINX, ['-p', dir, '-c', path.join(dir, 'nginx.conf')], { stdio: ['ignore', 'pipe', 'pipe'] }));
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  for (let i = 0; i < 100; i++) {
    try {
      await request({ port, path: '/_probe', headers: { host: 'probe.invalid' }, timeoutMs: 500 });
      break;
    } catch {
      if (child.exitCode !== null) throw new Error(`nginx exited: ${stderr}`);
      await sleep(50);
    }
  }
  return {
    async stop() {
      if (child.exitCode === null) child.kill('SIGQUIT');
      await exitOf(child);
    },
    log: () => fs.readFileSync(path.join(dir, 'logs', 'error.log'), 'utf8'),
  };
}

describe('forward-auth behind nginx auth_request', { skip: NGINX ? false : 'nginx is not installed' }, () => {
  let env, nginx, app;
  before(async () => {
    const nginxPort = await unusedPort();
    env = await startSignInEnv({
      beforeStart: (e) => { e.config.forward_auth_url = `http://fwd.example.test:${e.port}`; },
      routes: (u) => [
        { from: 'http://app.example.test', to: u.origin, prefix: '/admin', allowed_users: ['bob@example.com'], pass_identity_headers: true },
        { from: 'http://app.example.test', to: u.origin, allow_any_authenticated_user: true, pass_identity_headers: true },
      ],
    });
    nginx = await startNginx({ port: nginxPort, posternPort: env.port, upstream: env.up.origin });
    app = `http://app.example.test:${nginxPort}`;
  });
  after(() => stopAll(() => nginx?.stop(), env?.stop));

  it('signs a browser in through nginx, and its next requests pass with the identity assertion', async () => {
    const b = new Browser();
    const r = await signIn(b, `${app}/page?x=1`, USERS.alice.login, USERS.alice.password);
    assert.ok(r.formShown, `nginx sent the browser to sign in:\n${describeHops(r.hops)}`);
    assert.equal(r.res.status, 200, describeHops(r.hops));
    assert.equal(r.url, `${app}/page?x=1`, `ends on the app:\n${describeHops(r.hops)}`);
    assert.ok(b.cookie('app.example.test', '_pomerium'), 'the route cookie is set for the app host');
    const echo = echoOf(await b.fetch(`${app}/again`, { headers: { accept: 'application/json' } }));
    assert.equal(decodeJwt(echo.headers['x-pomerium-jwt-assertion']).email, 'alice@example.com');
    // Policy still decides per path: alice may not see /admin.
    const admin = await b.fetch(`${app}/admin/x`);
    assert.equal(admin.status, 403);
  });

  it('/verify answers 200, 401 with where to sign in, or 403, for ?uri= and X-Forwarded-Uri too', async () => {
    const fwd = (headers, p = '/verify') => env.p.request(`http://fwd.example.test:${env.port}${p}`, { headers: { accept: '*/*', ...headers } });
    const anonymous = await fwd({ 'X-Original-URL': 'http://app.example.test/x' });
    assert.equal(anonymous.status, 401);
    assert.equal(anonymous.headers['x-auth-redirect'], `http://fwd.example.test:${env.port}/?uri=${encodeURIComponent('http://app.example.test/x')}`);
    const noRoute = await fwd({}, `/verify?uri=${encodeURIComponent('http://elsewhere.example.test/x')}`);
    assert.equal(noRoute.status, 403);
    const traefik = await fwd({ 'X-Forwarded-Proto': 'http', 'X-Forwarded-Host': 'app.example.test', 'X-Forwarded-Uri': '/y' });
    assert.equal(traefik.status, 401);
    const garbage = await fwd({}, '/verify?uri=javascript:alert(1)');
    assert.equal(garbage.status, 400);
    const signin = await fwd({}, `/?uri=${encodeURIComponent('http://app.example.test/x')}`);
    assert.equal(signin.status, 302);
    assert.equal(new URL(signin.headers.location).pathname, '/.pomerium/sign_in');
    const offsite = await fwd({}, `/?uri=${encodeURIComponent('http://evil.example.test/x')}`);
    assert.equal(offsite.status, 400, 'never a sign-in for a host Postern does not serve');
  });
});
