#!/usr/bin/env node
// Postern's sample upstream: the echo server the end-to-end tests proxy to, and the demo's sample app.
//
//   node tests/e2e/upstream/server.mjs --port 0 [--host 127.0.0.1] [--tls-cert F --tls-key K] [--name NAME]
//                                      [--keep-alive-timeout MS]   (idle keep-alive connections closed after MS; 30000)
//
// Prints exactly one line once listening: `upstream listening on http://127.0.0.1:PORT` (https with TLS).
//
// Every request is answered with JSON describing what arrived:
//   { method, path (with query), http_version, headers, body_sha256, body_bytes,
//     body_first_byte_ms, body_last_byte_ms (ms after the head arrived; null without a body),
//     remote_address, remote_port, server_port, name, tls_servername }
// `headers` maps lower-case names to the value as received. A name received more than once maps to an
// ARRAY of its values in arrival order (nothing is joined), so a test can tell `A: 1, 2` from two `A` lines.
// When the Accept header prefers text/html the same facts are rendered as an HTML page titled
// "Postern sample app" which shows who the user is (X-Pomerium-Claim-Email, else the email/sub from the
// decoded X-Pomerium-Jwt-Assertion payload, else "anonymous").
//
// Special paths (for tests):
//   /slow?ms=N        wait N ms before sending the response head
//   /status/NNN       answer with that status (JSON echo body, none for 1xx/204/304)
//   /bytes/N          N bytes of the pattern below with Content-Length, written in 64 KiB chunks
//   /chunked/N        the same N bytes with Transfer-Encoding: chunked
//   /drip?n=N&ms=M    N chunks of "chunk i\n", M ms apart (chunked; with &cl=1 a Content-Length) — streaming
//   /garbage          writes a non-HTTP reply on the raw socket and closes it
//   /close            closes the socket without answering
//   /set-cookie       two Set-Cookie headers (a=1, b=2) plus the echo
//   /headers?n=v&...  every query parameter echoed as a response header (repeats give repeated headers)
//   /ws               websocket echo (text and binary messages are sent back unchanged)
// The /bytes and /chunked bodies are byte i = i % 251; their SHA-256 is sent in `X-Body-Sha256`.
// Keep-alive is on; request heads up to 1 MiB are accepted (so Postern's own limits are what tests see).

import http from 'node:http';
import https from 'node:https';
import fs from 'node:fs';
import crypto from 'node:crypto';
import { WebSocketServer } from 'ws';

export function patternBytes(offset, length) {
  const b = Buffer.allocUnsafe(length);
  for (let i = 0; i < length; i++) b[i] = (offset + i) % 251;
  return b;
}

export function patternSha256(n) {
  const h = crypto.createHash('sha256');
  const chunk = 65536;
  for (let off = 0; off < n; off += chunk) h.update(patternBytes(off, Math.min(chunk, n - off)));
  return h.digest('hex');
}

function parseArgs(argv) {
  const out = { port: 0, host: '127.0.0.1', tlsCert: null, tlsKey: null, name: '', keepAliveMs: 30_000 };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i].replace(/^--?/, '');
    const [k, inline] = a.includes('=') ? [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)] : [a, null];
    const val = () => (inline !== null ? inline : argv[++i]);
    if (k === 'port') out.port = Number(val());
    else if (k === 'host') out.host = val();
    else if (k === 'tls-cert') out.tlsCert = val();
    else if (k === 'tls-key') out.tlsKey = val();
    else if (k === 'name') out.name = val();
    else if (k === 'keep-alive-timeout') out.keepAliveMs = Number(val());
    else {
      process.stderr.write(`unknown argument: ${argv[i]}\n`);
      process.exit(2);
    }
  }
  if (!!out.tlsCert !== !!out.tlsKey) {
    process.stderr.write('--tls-cert and --tls-key go together\n');
    process.exit(2);
  }
  return out;
}

function collectHeaders(rawHeaders) {
  const h = {};
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i].toLowerCase();
    const value = rawHeaders[i + 1];
    if (!(name in h)) h[name] = value;
    else if (Array.isArray(h[name])) h[name].push(value);
    else h[name] = [h[name], value];
  }
  return h;
}

// Does the Accept header prefer text/html over application/json?
function prefersHtml(accept) {
  if (!accept) return false;
  let html = -1, json = -1, order = 0, htmlOrder = 0, jsonOrder = 0;
  for (const part of String(accept).split(',')) {
    const [type, ...params] = part.trim().toLowerCase().split(';').map((s) => s.trim());
    let q = 1;
    for (const p of params) if (p.startsWith('q=')) q = Number(p.slice(2)) || 0;
    order++;
    if (type === 'text/html' && q > html) { html = q; htmlOrder = order; }
    if ((type === 'application/json' || type === 'application/*') && q > json) { json = q; jsonOrder = order; }
  }
  if (html <= 0) return false;
  if (html !== json) return html > json;
  return htmlOrder < jsonOrder;
}

function decodeJwtPayload(jwt) {
  try {
    const part = String(jwt).split('.')[1];
    return JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
  } catch {
    return null;
  }
}

function first(v) { return Array.isArray(v) ? v[0] : v; }

const esc = (s) => String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]));

function renderHtml(echo) {
  const claimEmail = first(echo.headers['x-pomerium-claim-email']);
  const assertion = first(echo.headers['x-pomerium-jwt-assertion']);
  const claims = assertion ? decodeJwtPayload(assertion) : null;
  const who = claimEmail || (claims && (claims.email || claims.sub)) || 'anonymous';
  const rows = Object.entries(echo.headers)
    .map(([k, v]) => `<tr><th>${esc(k)}</th><td>${esc(Array.isArray(v) ? v.join('\n') : v)}</td></tr>`)
    .join('\n');
  const claimRows = claims
    ? Object.entries(claims).map(([k, v]) => `<tr><th>${esc(k)}</th><td>${esc(typeof v === 'string' ? v : JSON.stringify(v))}</td></tr>`).join('\n')
    : '';
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Postern sample app</title>
<style>body{font-family:system-ui,sans-serif;margin:2rem;max-width:60rem}table{border-collapse:collapse}
th,td{border:1px solid #ccc;padding:.25rem .5rem;text-align:left;vertical-align:top;font-family:monospace;white-space:pre-wrap;word-break:break-all}</style>
</head><body>
<h1>Postern sample app</h1>
<p>Signed in as <strong id="user">${esc(who)}</strong></p>
<p>${esc(echo.method)} <code>${esc(echo.path)}</code> from ${esc(echo.remote_address)} (${echo.body_bytes} body bytes)</p>
${claims ? `<h2>Identity assertion claims</h2><table id="claims">${claimRows}</table>` : ''}
<h2>Request headers</h2>
<table id="headers">
${rows}
</table>
</body></html>
`;
}

function main() {
  const opts = parseArgs(process.argv.slice(2));
  const tls = !!opts.tlsCert;
  const serverOptions = { maxHeaderSize: 1024 * 1024, keepAlive: true, keepAliveTimeout: opts.keepAliveMs, requestTimeout: 0 };
  const handler = (req, res) => handle(req, res, opts).catch((err) => {
    process.stderr.write(`upstream error: ${err && err.stack}\n`);
    res.destroy();
  });
  const server = tls
    ? https.createServer({ ...serverOptions, cert: fs.readFileSync(opts.tlsCert), key: fs.readFileSync(opts.tlsKey) }, handler)
    : http.createServer(serverOptions, handler);
  server.keepAliveTimeout = opts.keepAliveMs;
  server.headersTimeout = 60_000;

  const wss = new WebSocketServer({ noServer: true });
  wss.on('connection', (ws) => {
    ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
  });
  server.on('upgrade', (req, socket, head) => {
    const { pathname } = new URL(req.url, 'http://x');
    if (pathname !== '/ws') {
      socket.end('HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req));
  });
  server.on('clientError', (err, socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
  });

  server.listen(opts.port, opts.host, () => {
    const addr = server.address();
    const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
    process.stdout.write(`upstream listening on ${tls ? 'https' : 'http'}://${host}:${addr.port}\n`);
  });
  const stop = () => {
    server.close(() => process.exit(0));
    server.closeAllConnections?.();
    for (const c of wss.clients) c.terminate();
    setTimeout(() => process.exit(0), 500).unref();
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

async function readBody(req) {
  const hash = crypto.createHash('sha256');
  const start = Date.now();
  let bytes = 0;
  let first = null;
  let last = null;
  for await (const chunk of req) {
    if (first === null) first = Date.now() - start;
    last = Date.now() - start;
    hash.update(chunk);
    bytes += chunk.length;
  }
  return { body_sha256: hash.digest('hex'), body_bytes: bytes, body_first_byte_ms: first, body_last_byte_ms: last };
}

function sleep(ms, req) {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    req.socket.once('close', () => { clearTimeout(timer); resolve(); });
  });
}

async function handle(req, res, opts) {
  const url = new URL(req.url, 'http://upstream.invalid');
  const path = url.pathname;
  const query = url.searchParams;

  if (path === '/close') {
    req.socket.destroy();
    return;
  }
  if (path === '/garbage') {
    req.socket.end('THIS IS NOT HTTP\r\n\x00\x01\x02 garbage garbage\r\n\r\n');
    return;
  }

  const body = await readBody(req);
  if (res.destroyed) return;
  const echo = {
    method: req.method,
    path: req.url,
    http_version: req.httpVersion,
    headers: collectHeaders(req.rawHeaders),
    ...body,
    remote_address: req.socket.remoteAddress,
    remote_port: req.socket.remotePort,
    server_port: req.socket.localPort,
    name: opts.name,
    tls_servername: req.socket.servername || null,
  };

  if (path === '/slow') {
    await sleep(Number(query.get('ms') || 1000), req);
    if (req.socket.destroyed) return;
  }

  let m;
  if ((m = /^\/bytes\/(\d+)$/.exec(path)) || (m = /^\/chunked\/(\d+)$/.exec(path))) {
    const n = Number(m[1]);
    const chunked = path.startsWith('/chunked/');
    const headers = { 'Content-Type': 'application/octet-stream', 'X-Body-Sha256': patternSha256(n) };
    if (!chunked) headers['Content-Length'] = String(n);
    res.writeHead(200, headers);
    if (req.method === 'HEAD') { res.end(); return; }
    const chunk = 65536;
    for (let off = 0; off < n; off += chunk) {
      if (!res.write(patternBytes(off, Math.min(chunk, n - off)))) {
        await new Promise((resolve) => { res.once('drain', resolve); res.once('close', resolve); });
        if (res.destroyed) return;
      }
    }
    res.end();
    return;
  }

  if (path === '/drip') {
    const n = Number(query.get('n') || 5);
    const ms = Number(query.get('ms') || 200);
    const headers = { 'Content-Type': 'text/plain' };
    if (query.get('cl') === '1') {
      let len = 0;
      for (let i = 0; i < n; i++) len += Buffer.byteLength(`chunk ${i}\n`);
      headers['Content-Length'] = String(len);
    }
    res.writeHead(200, headers);
    for (let i = 0; i < n; i++) {
      if (i > 0) await sleep(ms, req);
      if (res.destroyed) return;
      res.write(`chunk ${i}\n`);
    }
    res.end();
    return;
  }

  let status = 200;
  const extra = [];
  if ((m = /^\/status\/(\d{3})$/.exec(path))) status = Number(m[1]);
  if (path === '/set-cookie') {
    extra.push(['Set-Cookie', 'a=1; Path=/'], ['Set-Cookie', 'b=2; Path=/; HttpOnly']);
  }
  if (path === '/headers') {
    for (const [k, v] of query) extra.push([k, v]);
  }

  const html = prefersHtml(req.headers.accept);
  const noBody = status < 200 || status === 204 || status === 304 || req.method === 'HEAD';
  const payload = noBody ? Buffer.alloc(0) : Buffer.from(html ? renderHtml(echo) : JSON.stringify(echo, null, 2) + '\n');
  const raw = [];
  if (!noBody || req.method === 'HEAD') {
    raw.push('Content-Type', html ? 'text/html; charset=utf-8' : 'application/json');
  }
  if (status !== 204 && !(status < 200)) raw.push('Content-Length', String(payload.length));
  for (const [k, v] of extra) raw.push(k, v);
  res.writeHead(status, raw);
  res.end(req.method === 'HEAD' ? undefined : payload);
}

// Run only when executed directly (tests import patternBytes/patternSha256 from here).
if (process.argv[1] && import.meta.url === new URL(`file://${fs.realpathSync(process.argv[1])}`).href) main();
