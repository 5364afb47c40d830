// gRPC through Postern with real gRPC on both ends (@grpc/grpc-js client and server): the four call kinds, status
// and trailers, metadata, deadlines (the upstream sees the cancellation), 10 MB messages, route `timeout` and
// `idle_timeout` applied per stream, TLS on either side (an https upstream chooses h2 by ALPN), and the sign-in
// answers in gRPC terms with programmatic access (`Authorization: Pomerium <jwt>`). Upstream HTTP/2 in general
// (`to: h2c://…`) is checked with a plain node:http2 upstream: HTTP/1.1 clients, upstream resets mapped to the client,
// REFUSED_STREAM retried, and many requests sharing few upstream connections.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFile } from 'node:child_process';
import { startPostern, publicRoute, makePki, unusedPort } from './lib/index.mjs';
import { h2connect, h2request as h2get } from './lib/h2.mjs';
import {
  startGrpcServer, echoClient, unary, serverStream, json, parse, pattern, sha256, metadata, grpc,
} from './lib/grpc.mjs';
import {
  startSim, startSignInEnv, startLoopback, Browser, signIn, stopAll, USERS, decodeJwt,
} from './lib/signin.mjs';

const { NGHTTP2_INTERNAL_ERROR, NGHTTP2_REFUSED_STREAM } = http2.constants;

// A plain HTTP/2 upstream (h2c) whose paths misbehave on purpose; counts its connections.
async function startRawH2Upstream() {
  const server = http2.createServer();
  const state = { sessions: 0, refused: new Set(), attempts: new Map() };
  const open = new Set();
  server.on('session', (session) => {
    state.sessions++;
    open.add(session);
    session.on('close', () => open.delete(session));
  });
  server.on('stream', (stream, headers) => {
    const url = new URL(headers[':path'], 'http://x');
    const key = url.searchParams.get('k') ?? '';
    state.attempts.set(url.pathname + key, (state.attempts.get(url.pathname + key) ?? 0) + 1);
    stream.on('error', () => {});
    if (url.pathname === '/reset-before-head') {
      stream.close(NGHTTP2_INTERNAL_ERROR);
    } else if (url.pathname === '/reset-midway') {
      // waitForTrailers: Node would otherwise end the stream (END_STREAM) before its RST_STREAM
      stream.respond({ ':status': 200, 'content-type': 'text/plain' }, { waitForTrailers: true });
      stream.write('partial ');
      setTimeout(() => stream.close(NGHTTP2_INTERNAL_ERROR), 100);
    } else if (url.pathname.startsWith('/size/')) {
      stream.respond({ ':status': 200, 'content-type': 'application/octet-stream' });
      stream.end(Buffer.alloc(Number(url.pathname.slice(6)), 'z'));
    } else if (url.pathname === '/early') {
      // Answers before reading the body, then stops it (RST_STREAM NO_ERROR, RFC 9113 §8.1).
      stream.respond({ ':status': 413, 'content-type': 'text/plain' });
      stream.end('too large\n', () => stream.close(http2.constants.NGHTTP2_NO_ERROR));
    } else if (url.pathname === '/refuse-once' && !state.refused.has(key)) {
      state.refused.add(key);
      stream.close(NGHTTP2_REFUSED_STREAM);
    } else {
      const chunks = [];
      stream.on('data', (d) => chunks.push(d));
      stream.on('end', () => {
        const body = Buffer.concat(chunks);
        const delay = Number(url.searchParams.get('delay') ?? 0);
        setTimeout(() => {
          if (stream.destroyed) return;
          stream.respond({ ':status': 200, 'content-type': 'application/json' });
          stream.end(JSON.stringify({
            method: headers[':method'], path: headers[':path'], authority: headers[':authority'],
            bodyBytes: body.length, bodySha: sha256(body), te: headers.te ?? null,
            forwardedProto: headers['x-forwarded-proto'] ?? null,
          }));
        }, delay);
      });
    }
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const port = server.address().port;
  return {
    port,
    origin: `h2c://127.0.0.1:${port}`,
    state,
    stop: () => new Promise((r) => {
      server.close(() => r());
      for (const s of open) s.destroy();
    }),
  };
}

// curl, as a user would run it; resolves { version, status, body }.
function curl(args) {
  return new Promise((resolve, reject) => {
    execFile('curl', ['-sS', '--max-time', '20', '-o', '-', '-w', '\n%{http_version} %{http_code}', ...args],
      { maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
        if (err) return reject(new Error(`curl ${args.join(' ')}: ${err.message}\n${stderr}`));
        const cut = stdout.lastIndexOf('\n');
        const [version, status] = stdout.slice(cut + 1).split(' ');
        resolve({ version, status: Number(status), body: stdout.slice(0, cut) });
      });
  });
}

const THREADS = 2;

describe('gRPC through Postern (grpc-js client and server)', () => {
  let pki, up, tlsUp, raw, plain, secure, client, tlsClient;
  const host = (name) => `${name}.example.test`;

  before(async () => {
    pki = makePki();
    const deadPort = await unusedPort();
    [up, tlsUp, raw] = await Promise.all([
      startGrpcServer(),
      startGrpcServer({ tls: { certPem: pki.server.certPem, keyPem: pki.server.keyPem } }),
      startRawH2Upstream(),
    ]);
    const routes = (scheme) => [
      publicRoute(`${scheme}://${host('grpc')}`, up.origin),
      publicRoute(`${scheme}://${host('short')}`, up.origin, { timeout: '1s' }),
      publicRoute(`${scheme}://${host('long')}`, up.origin, { timeout: '0s' }),
      publicRoute(`${scheme}://${host('idle')}`, up.origin, { timeout: '0s', idle_timeout: '1s' }),
      publicRoute(`${scheme}://${host('tlsup')}`, tlsUp.origin, { tls_custom_ca_file: pki.caFile }),
      publicRoute(`${scheme}://${host('raw')}`, raw.origin, { timeout: '3s' }),
      publicRoute(`${scheme}://${host('two')}`, [`h2c://127.0.0.1:${deadPort}`, raw.origin]),
    ];
    plain = await startPostern({
      config: { address: '127.0.0.1:0', insecure_server: true, routes: routes('http') },
      args: ['--threads', String(THREADS)],
    });
    secure = await startPostern({
      config: {
        address: '127.0.0.1:0', certificate_file: pki.server.certFile, certificate_key_file: pki.server.keyFile,
        routes: routes('https'),
      },
      ca: pki.caPem,
    });
    client = echoClient(`127.0.0.1:${plain.port}`, { authority: `${host('grpc')}:${plain.port}` });
    tlsClient = echoClient(`127.0.0.1:${secure.port}`, { authority: `${host('grpc')}:${secure.port}`, ca: pki.caPem });
  });
  after(async () => {
    client?.close();
    tlsClient?.close();
    await plain?.stopAndCheck();
    await secure?.stopAndCheck();
    await Promise.all([up?.stop(), tlsUp?.stop(), raw?.stop()]);
  });

  it('unary: the answer, metadata both ways and the trailers arrive; Postern adds its forwarding headers', async () => {
    const r = await unary(client, 'unary', json({ echo: 'hello' }), { md: metadata({ 'x-client-md': 'abc' }) });
    const body = parse(r.message);
    assert.equal(body.echo, 'hello');
    assert.equal(body.metadata['x-client-md'], 'abc');
    assert.match(String(body.metadata['x-request-id']), /^[0-9a-f]{32}$/, 'X-Request-Id reaches the upstream');
    assert.equal(body.metadata['x-forwarded-proto'], 'http');
    assert.equal(r.status.code, grpc.status.OK);
    assert.equal(r.status.metadata.get('x-trailer')[0], 'kept', 'trailing metadata forwarded');
    const line = await plain.waitForAccessLog((l) => l.path === '/postern.test.Echo/Unary');
    assert.equal(line.protocol, 'HTTP/2');
    assert.equal(line.status, 200);
  });

  it('a failed call keeps its grpc-status, grpc-message and trailing metadata', async () => {
    await assert.rejects(unary(client, 'unary', json({ code: grpc.status.NOT_FOUND, message: 'no such thing' })), (err) => {
      assert.equal(err.code, grpc.status.NOT_FOUND);
      assert.equal(err.details, 'no such thing');
      assert.equal(err.metadata.get('x-detail')[0], 'from-upstream');
      return true;
    });
  });

  it('server streaming: 200 messages in order', async () => {
    const r = await serverStream(client, json({ count: 200 }));
    assert.deepEqual(r.messages.map((m) => m.i), [...Array(200).keys()]);
  });

  it('client streaming: 100 messages summed by the upstream', async () => {
    const r = await new Promise((resolve, reject) => {
      const call = client.clientStream(metadata(), (err, res) => (err ? reject(err) : resolve(parse(res))));
      for (let n = 1; n <= 100; n++) call.write(json({ n }));
      call.end();
    });
    assert.deepEqual(r, { sum: 5050, count: 100 });
  });

  it('bidirectional: 50 round trips on one call, each reply before the next message (full duplex)', async () => {
    const call = client.bidi(metadata());
    const replies = [];
    let waiting;
    call.on('data', (m) => {
      replies.push(parse(m).n);
      waiting?.();
    });
    const ended = new Promise((resolve, reject) => {
      call.on('error', reject);
      call.on('status', (s) => (s.code === grpc.status.OK ? resolve() : reject(new Error(s.details))));
    });
    for (let n = 1; n <= 50; n++) {
      const got = new Promise((r) => (waiting = r));
      call.write(json({ n }));
      await got; // the request stream is still open: only full duplex gets this reply
    }
    call.end();
    await ended;
    assert.deepEqual(replies, Array.from({ length: 50 }, (_, i) => (i + 1) * 2));
  });

  it('10 MB messages both ways, intact', async () => {
    const big = pattern(10 << 20);
    const up1 = await unary(client, 'hash', big);
    assert.equal(up1.message.toString(), `${big.length}:${sha256(big)}`);
    const down = await unary(client, 'blob', json({ size: 10 << 20 }));
    assert.equal(down.message.length, 10 << 20);
    assert.equal(sha256(down.message), sha256(big));
  });

  it('a deadline ends the call with DEADLINE_EXCEEDED and the upstream sees the cancellation', async () => {
    const before = up.seen.cancelled.length;
    const t0 = Date.now();
    await assert.rejects(unary(client, 'unary', json({ echo: 'slow', delayMs: 3000 }), { deadlineMs: 300 }), (err) => {
      assert.equal(err.code, grpc.status.DEADLINE_EXCEEDED);
      return true;
    });
    assert.ok(Date.now() - t0 < 2000, 'ends at the deadline');
    const until = Date.now() + 2000;
    while (up.seen.cancelled.length === before && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
    assert.ok(up.seen.cancelled.length > before, 'the upstream call was cancelled through Postern');
  });

  it("the route's timeout applies per stream: 1s cuts a 3s stream, 0s lets it run", async () => {
    const shortClient = echoClient(`127.0.0.1:${plain.port}`, { authority: `${host('short')}:${plain.port}` });
    const longClient = echoClient(`127.0.0.1:${plain.port}`, { authority: `${host('long')}:${plain.port}` });
    try {
      await assert.rejects(serverStream(shortClient, json({ count: 30, intervalMs: 100 })), (err) => {
        assert.notEqual(err.code, grpc.status.OK);
        assert.ok(err.messages.length > 3 && err.messages.length < 30, `cut midway (${err.messages.length} messages)`);
        return true;
      });
      const r = await serverStream(longClient, json({ count: 30, intervalMs: 100 }));
      assert.equal(r.messages.length, 30);
    } finally {
      shortClient.close();
      longClient.close();
    }
  });

  it('a client-streaming call longer than idle_timeout lives while the client sends', async () => {
    const idleClient = echoClient(`127.0.0.1:${plain.port}`, { authority: `${host('idle')}:${plain.port}` });
    try {
      const r = await new Promise((resolve, reject) => {
        const call = idleClient.clientStream(metadata(), (err, res) => (err ? reject(err) : resolve(parse(res))));
        let n = 0;
        const tick = setInterval(() => {
          call.write(json({ n: ++n }));
          if (n === 12) {
            clearInterval(tick);
            call.end();
          }
        }, 200); // 2.4 s of sending against a 1 s idle timeout; the answer comes only at the end
      });
      assert.deepEqual(r, { sum: 78, count: 12 });
    } finally {
      idleClient.close();
    }
  });

  it("the route's idle_timeout cuts a silent stream, not a busy one", async () => {
    const idleClient = echoClient(`127.0.0.1:${plain.port}`, { authority: `${host('idle')}:${plain.port}` });
    try {
      const busy = await serverStream(idleClient, json({ count: 25, intervalMs: 100 }));
      assert.equal(busy.messages.length, 25, 'a message every 100 ms keeps a 1 s idle timeout away for 2.5 s');
      await assert.rejects(unary(idleClient, 'unary', json({ echo: 'x', delayMs: 2500 })), (err) => {
        assert.notEqual(err.code, grpc.status.OK);
        return true;
      });
    } finally {
      idleClient.close();
    }
  });

  it('gRPC over TLS to Postern (ALPN h2), and to an https upstream that speaks only h2', async () => {
    const r = await unary(tlsClient, 'unary', json({ echo: 'tls' }));
    assert.equal(parse(r.message).echo, 'tls');
    assert.equal(parse(r.message).metadata['x-forwarded-proto'], 'https');
    const viaTlsUpstream = echoClient(`127.0.0.1:${plain.port}`, { authority: `${host('tlsup')}:${plain.port}` });
    try {
      const r2 = await unary(viaTlsUpstream, 'unary', json({ echo: 'alpn' }));
      assert.equal(parse(r2.message).echo, 'alpn');
      const s = await serverStream(viaTlsUpstream, json({ count: 20 }));
      assert.equal(s.messages.length, 20);
    } finally {
      viaTlsUpstream.close();
    }
  });

  it('HTTP/1.1 clients reach an h2c upstream: bodies both ways, Content-Length or chunked', async () => {
    const body = pattern(300_000);
    const res = await plain.request(`http://${host('raw')}:${plain.port}/echo?x=1`, {
      method: 'POST', body, headers: { 'content-type': 'application/octet-stream' },
    });
    assert.equal(res.status, 200, res.text);
    const seen = JSON.parse(res.text);
    assert.equal(seen.method, 'POST');
    assert.equal(seen.path, '/echo?x=1');
    assert.equal(seen.authority, `127.0.0.1:${raw.port}`, 'the upstream authority by default');
    assert.equal(seen.bodyBytes, body.length);
    assert.equal(seen.bodySha, sha256(body));
    assert.equal(seen.te, null, 'no te unless the client asked for trailers');
  });

  it('an upstream reset midway resets the client stream; one before the head is a 502', async () => {
    const s = await h2connect(`http://127.0.0.1:${plain.port}`);
    s.on('error', () => {});
    try {
      const authority = `${host('raw')}:${plain.port}`;
      await assert.rejects(h2get(s, { ':authority': authority, ':path': '/reset-midway' }), (err) => {
        assert.equal(err.head?.[':status'], 200);
        assert.equal(err.code, 'ERR_HTTP2_STREAM_ERROR');
        assert.match(err.message, /NGHTTP2_INTERNAL_ERROR/);
        return true;
      });
      const before = await h2get(s, { ':authority': authority, ':path': '/reset-before-head' });
      assert.equal(before.status, 502);
      const ok = await h2get(s, { ':authority': authority, ':path': '/fine' });
      assert.equal(ok.status, 200, 'the connection and the upstream pool carry on');
    } finally {
      s.close();
    }
  });

  it("small responses past the upstream connection's 1 MiB window keep flowing (every byte is given back)", async () => {
    const s = await h2connect(`http://127.0.0.1:${plain.port}`);
    s.on('error', () => {});
    try {
      const authority = `${host('raw')}:${plain.port}`;
      for (let batch = 0; batch < 8; batch++) {
        const all = await Promise.all(
          Array.from({ length: 50 }, () => h2get(s, { ':authority': authority, ':path': '/size/12000' })),
        );
        for (const r of all) assert.equal(r.body.length, 12000);
      }
    } finally {
      s.close();
    }
  });

  it('an HTTP/1.1 body the upstream stopped reading (it answered early) is never read as a next request', async () => {
    const smuggled = 'GET /smuggled HTTP/1.1\r\nHost: raw.example.test\r\n\r\n';
    const body = Buffer.concat([Buffer.alloc(200_000, 'a'), Buffer.from(smuggled), Buffer.alloc(200_000, 'b')]);
    const res = await plain.request(`http://${host('raw')}:${plain.port}/early`, { method: 'POST', body });
    assert.equal(res.status, 413);
    assert.equal(res.headers.connection, 'close', 'the unread rest of the body ends the connection');
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(raw.state.attempts.get('/smuggled') ?? 0, 0);
  });

  it('curl: --http2-prior-knowledge and --http2 over TLS speak HTTP/2 end to end; --http2 in clear text stays HTTP/1.1', async () => {
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'postern-curl-')), 'body.bin');
    const body = pattern(1 << 20);
    fs.writeFileSync(file, body);
    try {
      const authority = `${host('raw')}:${plain.port}`;
      const prior = await curl(['--http2-prior-knowledge', '-H', `Host: ${authority}`, '--data-binary', `@${file}`,
        `http://127.0.0.1:${plain.port}/curl?a=b`]);
      assert.equal(prior.version, '2');
      assert.equal(prior.status, 200);
      const seen = JSON.parse(prior.body);
      assert.equal(seen.path, '/curl?a=b');
      assert.equal(seen.bodyBytes, body.length);
      assert.equal(seen.bodySha, sha256(body));
      const secureRaw = `${host('raw')}:${secure.port}`;
      const overTls = await curl(['--http2', '--cacert', pki.caFile, '--resolve', `${secureRaw}:127.0.0.1`,
        `https://${secureRaw}/tls`]);
      assert.equal(overTls.version, '2', 'ALPN h2');
      assert.equal(overTls.status, 200);
      assert.equal(JSON.parse(overTls.body).forwardedProto, 'https');
      const upgrade = await curl(['--http2', '-H', `Host: ${authority}`, `http://127.0.0.1:${plain.port}/clear`]);
      assert.equal(upgrade.version, '1.1', 'Upgrade: h2c is not taken (RFC 9113 dropped it): HTTP/1.1 goes on');
      assert.equal(upgrade.status, 200);
    } finally {
      fs.rmSync(path.dirname(file), { recursive: true, force: true });
    }
  });

  it('an h2c target that cannot be reached: an idempotent request moves to the route\'s other target', async () => {
    for (let i = 0; i < 6; i++) {
      const res = await plain.request(`http://${host('two')}:${plain.port}/moved/${i}`);
      assert.equal(res.status, 200, `request ${i}: ${res.status} ${res.text.slice(0, 200)}`);
      assert.equal(JSON.parse(res.text).path, `/moved/${i}`);
    }
  });

  it('a stream the upstream refused (REFUSED_STREAM) is sent again', async () => {
    const res = await plain.request(`http://${host('raw')}:${plain.port}/refuse-once?k=a`);
    assert.equal(res.status, 200, res.text);
    assert.equal(raw.state.attempts.get('/refuse-oncea'), 2);
  });

  it('many concurrent requests share a few upstream connections (streams, not connections)', async () => {
    const before = raw.state.sessions;
    const s = await h2connect(`http://127.0.0.1:${plain.port}`);
    s.on('error', () => {});
    try {
      const authority = `${host('raw')}:${plain.port}`;
      const all = await Promise.all(
        Array.from({ length: 80 }, (_, i) => h2get(s, { ':authority': authority, ':path': `/many/${i}?delay=100` })),
      );
      for (const r of all) assert.equal(r.status, 200);
      const c2 = await h2connect(`http://127.0.0.1:${plain.port}`);
      await Promise.all(Array.from({ length: 40 }, (_, i) => h2get(c2, { ':authority': authority, ':path': `/more/${i}` })));
      c2.close();
    } finally {
      s.close();
    }
    const opened = raw.state.sessions - before;
    assert.ok(opened <= THREADS, `120 requests opened ${opened} upstream connections (at most one per worker)`);
  });
});

describe('gRPC sign-in answers and programmatic access', () => {
  let sim, up, env, loop, token, authClient, denyClient;
  before(async () => {
    [sim, up, loop] = await Promise.all([startSim(), startGrpcServer(), startLoopback()]);
    env = await startSignInEnv({
      sim,
      up: { origin: up.origin, stop: async () => {} },
      routes: (u) => [
        { from: 'http://127.0.0.1', to: u.origin, allow_any_authenticated_user: true, pass_identity_headers: true },
        { from: 'http://deny.example.test', to: u.origin, policy: { allow: { and: [{ email: { is: 'nobody@example.com' } }] } } },
      ],
    });
    authClient = echoClient(`127.0.0.1:${env.port}`, { authority: `127.0.0.1:${env.port}` });
    denyClient = echoClient(`127.0.0.1:${env.port}`, { authority: `deny.example.test:${env.port}` });
  });
  after(async () => {
    authClient?.close();
    denyClient?.close();
    await stopAll(env?.stop, loop?.stop, up?.stop, sim?.stop);
  });

  it('without a session: 16 UNAUTHENTICATED, never a page or a redirect', async () => {
    await assert.rejects(unary(authClient, 'unary', json({ echo: 'x' })), (err) => {
      assert.equal(err.code, grpc.status.UNAUTHENTICATED);
      assert.match(err.details, /Unauthenticated/i);
      return true;
    });
    assert.equal(up.seen.calls.length, 0, 'nothing reached the upstream');
  });

  it('with Authorization: Pomerium <jwt> (programmatic sign-in) the call goes through as alice', async () => {
    const login = await env.p.request(`${env.route}/.pomerium/api/v1/login?pomerium_redirect_uri=${encodeURIComponent(`${loop.origin}/cb`)}`);
    assert.equal(login.status, 200, login.text);
    const r = await signIn(new Browser(), login.text.trim(), USERS.alice.login, USERS.alice.password);
    token = new URL(r.url).searchParams.get('pomerium_jwt');
    assert.ok(token, `pomerium_jwt in ${r.url}`);
    const res = await unary(authClient, 'unary', json({ echo: 'signed-in' }), { md: metadata({ authorization: `Pomerium ${token}` }) });
    const body = parse(res.message);
    assert.equal(body.echo, 'signed-in');
    assert.equal(body.metadata.authorization, undefined, 'the Pomerium credential is not forwarded');
    const claims = decodeJwt(String(body.metadata['x-pomerium-jwt-assertion']));
    assert.equal(claims.email, 'alice@example.com');
    const streamed = await serverStream(authClient, json({ count: 5 }), { md: metadata({ authorization: `Pomerium ${token}` }) });
    assert.equal(streamed.messages.length, 5);
  });

  it('a signed-in user the policy refuses: 7 PERMISSION_DENIED', async () => {
    assert.ok(token, 'needs the previous test');
    await assert.rejects(
      unary(denyClient, 'unary', json({ echo: 'x' }), { md: metadata({ authorization: `Pomerium ${token}` }) }),
      (err) => {
        assert.equal(err.code, grpc.status.PERMISSION_DENIED);
        return true;
      },
    );
  });
});
