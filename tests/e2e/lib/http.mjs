// HTTP clients for the end-to-end tests: an ordinary request helper (one fresh connection per request unless an
// agent is given) and a raw-socket connection for the malformed-input tests.

import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import tls from 'node:tls';

/**
 * One HTTP request. Resolves with { status, statusMessage, headers (node's lower-case object), rawHeaders,
 * body (Buffer), text, json() } — or rejects on a network error / timeout.
 *   port, host ('127.0.0.1'), path ('/'), method ('GET'), headers ({}), body (Buffer|string|async iterable of
 *   chunks → sent chunked unless a content-length header is given), tls (false | { ca, servername, ... }),
 *   agent (false = new connection), timeoutMs (10000)
 */
export function request({
  port,
  host = '127.0.0.1',
  path = '/',
  method = 'GET',
  headers = {},
  body,
  tls: tlsOpts = false,
  agent = false,
  timeoutMs = 10_000,
  setHost = true,
} = {}) {
  return new Promise((resolve, reject) => {
    const mod = tlsOpts ? https : http;
    const options = { host, port, path, method, headers, agent, setHost };
    if (tlsOpts) Object.assign(options, tlsOpts);
    const req = mod.request(options, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => {
        clearTimeout(timer);
        const buf = Buffer.concat(chunks);
        resolve({
          status: res.statusCode,
          statusMessage: res.statusMessage,
          headers: res.headers,
          rawHeaders: res.rawHeaders,
          trailers: res.trailers,
          body: buf,
          text: buf.toString('utf8'),
          json() {
            return JSON.parse(buf.toString('utf8'));
          },
          socket: { localPort: req.socket?.localPort },
        });
      });
    });
    const timer = setTimeout(() => {
      req.destroy(new Error(`request ${method} ${path} timed out after ${timeoutMs} ms`));
    }, timeoutMs);
    req.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    if (body === undefined || body === null) {
      req.end();
    } else if (typeof body === 'string' || Buffer.isBuffer(body) || body instanceof Uint8Array) {
      req.end(body);
    } else {
      (async () => {
        for await (const chunk of body) {
          if (!req.write(chunk)) await new Promise((r) => req.once('drain', r));
        }
        req.end();
      })().catch((err) => req.destroy(err));
    }
  });
}

/** Names of a response's headers as received (rawHeaders), lower-cased, in order. */
export function headerNames(res) {
  const out = [];
  for (let i = 0; i < res.rawHeaders.length; i += 2) out.push(res.rawHeaders[i].toLowerCase());
  return out;
}

/** Every value of a response header (rawHeaders), in order. */
export function headerValues(res, name) {
  const out = [];
  for (let i = 0; i < res.rawHeaders.length; i += 2) {
    if (res.rawHeaders[i].toLowerCase() === name.toLowerCase()) out.push(res.rawHeaders[i + 1]);
  }
  return out;
}

/**
 * A raw TCP (or TLS) connection: write exact bytes, read back parsed responses, observe the close.
 *   const c = await RawConnection.open({ port, tls: { servername, ca } | false })
 *   c.write('GET / HTTP/1.1\r\n...'); const res = await c.readResponse(); await c.waitClose(3000);
 */
export class RawConnection {
  static open({ port, host = '127.0.0.1', tls: tlsOpts = false, timeoutMs = 5000 } = {}) {
    return new Promise((resolve, reject) => {
      const socket = tlsOpts
        ? tls.connect({ host, port, rejectUnauthorized: !!tlsOpts.ca, ...tlsOpts })
        : net.connect({ host, port });
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new Error(`connect to ${host}:${port} timed out`));
      }, timeoutMs);
      socket.once(tlsOpts ? 'secureConnect' : 'connect', () => {
        clearTimeout(timer);
        socket.removeListener('error', reject);
        resolve(new RawConnection(socket));
      });
      socket.once('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
    });
  }

  constructor(socket) {
    this.socket = socket;
    this.buf = Buffer.alloc(0);
    this.received = [];
    this.closed = false;
    this.closedAt = null;
    this.error = null;
    this.waiters = new Set();
    socket.on('data', (d) => {
      this.buf = Buffer.concat([this.buf, d]);
      this.received.push(d);
      this.#wake();
    });
    socket.on('error', (err) => {
      this.error = err;
    });
    socket.on('close', () => {
      this.closed = true;
      this.closedAt = Date.now();
      this.#wake();
    });
    // a half-close by the peer: we keep our side open until told otherwise, but note it
    socket.on('end', () => {
      this.ended = true;
      this.#wake();
    });
  }

  #wake() {
    for (const w of [...this.waiters]) w();
  }

  #waitEvent(deadline) {
    return new Promise((resolve) => {
      const left = deadline - Date.now();
      if (left <= 0) return resolve(false);
      const done = () => {
        clearTimeout(timer);
        this.waiters.delete(done);
        resolve(true);
      };
      const timer = setTimeout(() => {
        this.waiters.delete(done);
        resolve(false);
      }, left);
      this.waiters.add(done);
    });
  }

  /** Write bytes; resolves once flushed to the kernel (or rejects if the socket is gone). */
  write(data) {
    return new Promise((resolve, reject) => {
      if (this.socket.destroyed) return reject(new Error('socket closed'));
      this.socket.write(data, (err) => (err ? reject(err) : resolve()));
    });
  }

  /** Everything received so far (including parsed responses), as latin1 text. */
  get text() {
    return Buffer.concat(this.received).toString('latin1');
  }

  /**
   * Parse the next response from the stream (1xx responses are returned as responses of their own).
   * Resolves with { status, reason, version, headers: [[name, value]...], header(name), body: Buffer, text }
   * or null when the connection closed / the timeout passed before a whole response arrived.
   * `headOnly`: the request was HEAD (no body follows).
   */
  async readResponse({ timeoutMs = 5000, headOnly = false } = {}) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const parsed = parseResponse(this.buf, { headOnly, eof: this.closed || this.ended });
      if (parsed) {
        this.buf = this.buf.subarray(parsed.consumed);
        return parsed.response;
      }
      if (this.closed || this.ended) return null;
      if (!(await this.#waitEvent(deadline))) return null;
    }
  }

  /** Resolves true when the peer closed (or half-closed) the connection within timeoutMs. */
  async waitClose(timeoutMs = 5000) {
    const deadline = Date.now() + timeoutMs;
    while (!(this.closed || this.ended)) {
      if (!(await this.#waitEvent(deadline))) return false;
    }
    return true;
  }

  close() {
    this.socket.destroy();
  }
}

function parseResponse(buf, { headOnly, eof }) {
  const end = buf.indexOf('\r\n\r\n');
  if (end < 0) return null;
  const head = buf.subarray(0, end).toString('latin1');
  const [statusLine, ...lines] = head.split('\r\n');
  const m = /^HTTP\/(\d\.\d) (\d{3})(?: (.*))?$/.exec(statusLine);
  if (!m) {
    // not HTTP at all: hand back what we have as a pseudo-response with status 0
    return { consumed: buf.length, response: makeResponse('?', 0, statusLine, [], buf) };
  }
  const headers = lines.map((l) => {
    const i = l.indexOf(':');
    return [l.slice(0, i).trim(), l.slice(i + 1).trim()];
  });
  const status = Number(m[2]);
  const get = (n) => headers.find(([k]) => k.toLowerCase() === n)?.[1];
  let pos = end + 4;
  if (headOnly || (status >= 100 && status < 200) || status === 204 || status === 304) {
    return { consumed: pos, response: makeResponse(m[1], status, m[3] || '', headers, Buffer.alloc(0)) };
  }
  const te = get('transfer-encoding');
  const cl = get('content-length');
  if (te && /chunked/i.test(te)) {
    const parts = [];
    for (;;) {
      const lineEnd = buf.indexOf('\r\n', pos);
      if (lineEnd < 0) return null;
      const size = parseInt(buf.subarray(pos, lineEnd).toString('latin1'), 16);
      pos = lineEnd + 2;
      if (size === 0) {
        // trailers until an empty line
        const tEnd = buf.indexOf('\r\n', pos);
        if (tEnd < 0) return null;
        if (tEnd === pos) {
          pos += 2;
          break;
        }
        const tt = buf.indexOf('\r\n\r\n', pos);
        if (tt < 0) return null;
        pos = tt + 4;
        break;
      }
      if (buf.length < pos + size + 2) return null;
      parts.push(buf.subarray(pos, pos + size));
      pos += size + 2;
    }
    return { consumed: pos, response: makeResponse(m[1], status, m[3] || '', headers, Buffer.concat(parts)) };
  }
  if (cl !== undefined) {
    const n = Number(cl);
    if (buf.length < pos + n) return null;
    return { consumed: pos + n, response: makeResponse(m[1], status, m[3] || '', headers, buf.subarray(pos, pos + n)) };
  }
  if (!eof) return null; // body delimited by the close
  return { consumed: buf.length, response: makeResponse(m[1], status, m[3] || '', headers, buf.subarray(pos)) };
}

function makeResponse(version, status, reason, headers, body) {
  return {
    version,
    status,
    reason,
    headers,
    header(name) {
      return headers.find(([k]) => k.toLowerCase() === name.toLowerCase())?.[1];
    },
    body: Buffer.from(body),
    text: Buffer.from(body).toString('utf8'),
  };
}

/**
 * Send raw bytes on a fresh connection and read one response (skipping 1xx).
 * Resolves { response (or null), closed (peer closed within the wait), raw (all bytes received, latin1) }.
 */
export async function rawRequest({ port, tls: tlsOpts = false, data, timeoutMs = 5000 }) {
  const c = await RawConnection.open({ port, tls: tlsOpts });
  try {
    await c.write(data).catch(() => {});
    let response;
    do {
      response = await c.readResponse({ timeoutMs });
    } while (response && response.status >= 100 && response.status < 200);
    const closed = response ? await c.waitClose(1000) : c.closed || c.ended;
    return { response, closed, raw: c.text };
  } finally {
    c.close();
  }
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
