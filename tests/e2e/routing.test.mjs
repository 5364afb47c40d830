// Route matching and path rewriting: hosts (exact, wildcard, with/without port), prefix/path/regex, first match
// in config order, rewrites, unknown hosts, routes that need sign-in, and the health endpoints.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startPostern, startUpstream, publicRoute } from './lib/index.mjs';

describe('routing', { concurrency: true }, () => {
  let up, p;
  // Each route tags the request with X-Route so the echo tells which route carried it.
  const r = (name, from, extra = {}, to) => publicRoute(from, to ?? up.origin, { set_request_headers: { 'X-Route': name }, ...extra });

  before(async () => {
    up = await startUpstream({ name: 'routing' });
    p = await startPostern({
      config: {
        address: '127.0.0.1:0',
        insecure_server: true,
        routes: [
          r('api-prefix', 'http://exact.example.test', { prefix: '/api/' }),
          r('exact-path', 'http://exact.example.test', { path: '/exact' }),
          r('regex', 'http://exact.example.test', { regex: '/items/[0-9]+' }),
          r('exact-any', 'http://exact.example.test'),
          r('wildcard', 'http://*.wild.example.test'),
          r('port-8443', 'http://port.example.test:8443'),
          r('prefix-rewrite', 'http://rewrite.example.test', { prefix: '/old/', prefix_rewrite: '/new/' }),
          r('regex-rewrite', 'http://regexrw.example.test', {
            regex_rewrite_pattern: '^/user/([a-z]+)/profile$',
            regex_rewrite_substitution: '/profiles/\\1',
          }),
          r('to-path', 'http://topath.example.test', {}, `${up.origin}/base/`),
          r('order-first', 'http://order.example.test'),
          r('order-second', 'http://order.example.test'),
          { from: 'http://private.example.test', to: up.origin, allow_any_authenticated_user: true },
          { from: 'http://nopolicy.example.test', to: up.origin },
          r('https-from', 'https://httpsfrom.example.test'),
        ],
      },
    });
  });
  after(async () => {
    await p?.stopAndCheck();
    await up?.stop();
  });

  async function routeOf(url, headers) {
    const res = await p.request(url, { headers });
    assert.equal(res.status, 200, `${url}: status ${res.status}\n${res.text.slice(0, 500)}`);
    const echo = res.json();
    return { route: echo.headers['x-route'], path: echo.path, echo };
  }

  it('matches prefix, exact path and anchored regex in config order on one host', async () => {
    assert.equal((await routeOf('http://exact.example.test/api/users')).route, 'api-prefix');
    assert.equal((await routeOf('http://exact.example.test/exact')).route, 'exact-path');
    assert.equal((await routeOf('http://exact.example.test/exact/more')).route, 'exact-any', 'path is exact, not a prefix');
    assert.equal((await routeOf('http://exact.example.test/items/42')).route, 'regex');
    assert.equal((await routeOf('http://exact.example.test/items/42/x')).route, 'exact-any', 'regex is a full match');
    assert.equal((await routeOf('http://exact.example.test/x/items/42')).route, 'exact-any', 'regex is anchored at the start');
    assert.equal((await routeOf('http://exact.example.test/apis')).route, 'exact-any', 'prefix /api/ does not match /apis');
  });

  it('passes the path and query through unchanged when nothing rewrites them', async () => {
    const { path } = await routeOf('http://exact.example.test/a/b%20c?x=1&y=%2F');
    assert.equal(path, '/a/b%20c?x=1&y=%2F');
  });

  it('a `from` without a port matches any port in the Host header', async () => {
    assert.equal((await routeOf('http://exact.example.test:12345/')).route, 'exact-any');
  });

  it('host matching ignores case', async () => {
    assert.equal((await routeOf('http://x/', { host: 'EXACT.Example.TEST' })).route, 'exact-any');
  });

  it('a `from` with a port matches only that port', async () => {
    assert.equal((await routeOf('http://port.example.test:8443/')).route, 'port-8443');
    assert.equal((await p.request('http://port.example.test:9443/')).status, 404);
  });

  it('a wildcard `from` matches any subdomain but not the bare domain', async () => {
    assert.equal((await routeOf('http://a.wild.example.test/')).route, 'wildcard');
    assert.equal((await routeOf('http://deep.b.wild.example.test/')).route, 'wildcard');
    assert.equal((await p.request('http://wild.example.test/')).status, 404);
  });

  it('the first matching route wins', async () => {
    for (let i = 0; i < 5; i++) assert.equal((await routeOf('http://order.example.test/')).route, 'order-first');
  });

  it('prefix_rewrite replaces the matched prefix and keeps the query', async () => {
    const { route, path } = await routeOf('http://rewrite.example.test/old/thing?q=1');
    assert.equal(route, 'prefix-rewrite');
    assert.equal(path, '/new/thing?q=1');
  });

  it('regex_rewrite_pattern/substitution rewrites with \\1 groups', async () => {
    const { path } = await routeOf('http://regexrw.example.test/user/alice/profile?tab=2');
    assert.equal(path, '/profiles/alice?tab=2');
    const untouched = await routeOf('http://regexrw.example.test/other');
    assert.equal(untouched.path, '/other');
  });

  it('a path on `to` acts as a prefix rewrite', async () => {
    const { route, path } = await routeOf('http://topath.example.test/x/y?z=1');
    assert.equal(route, 'to-path');
    assert.equal(path, '/base/x/y?z=1');
  });

  it('an https `from` also matches on the plain-http listener (insecure_server behind a TLS load balancer)', async () => {
    assert.equal((await routeOf('http://httpsfrom.example.test/')).route, 'https-from');
  });

  it('an unknown host gets a 404 page', async () => {
    const res = await p.request('http://nobody.example.test/', { headers: { accept: 'text/html' } });
    assert.equal(res.status, 404);
    assert.match(res.headers['content-type'] || '', /text\/html/);
    assert.ok(res.body.length > 0);
    const log = await p.waitForAccessLog((l) => l.request_id === res.headers['x-request-id']);
    assert.equal(log.status, 404);
    assert.equal(log.upstream, '');
  });

  it('a route that is not public answers 503 "sign-in is not configured"', async () => {
    const res = await p.request('http://private.example.test/', { headers: { accept: 'text/html' } });
    assert.equal(res.status, 503);
    assert.match(res.text, /sign-in is not configured/);
  });

  it('a route with no allow key and no policy denies everyone with 403, without asking anyone to sign in (as Pomerium)', async () => {
    const res = await p.request('http://nopolicy.example.test/', { headers: { accept: 'text/html' } });
    assert.equal(res.status, 403);
    assert.match(res.text, /not allowed/);
  });

  it('/ping and /healthz answer 200 on every host, known or not', async () => {
    for (const host of ['nobody.example.test', 'exact.example.test', 'private.example.test', '127.0.0.1']) {
      for (const path of ['/ping', '/healthz']) {
        const res = await p.request(`http://${host}${path}`);
        assert.equal(res.status, 200, `${host}${path} → ${res.status}`);
      }
    }
  });
});
