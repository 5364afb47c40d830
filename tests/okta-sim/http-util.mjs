// Small HTTP helpers shared by the simulator's hand-written endpoints.

import { AsyncLocalStorage } from 'node:async_hooks';

import { errorId } from './ids.mjs';

// Per-request facts (request id, client IP, user agent, URL) for code deep in a
// call chain, e.g. the System Log writing debugContext and client fields.
export const requestContext = new AsyncLocalStorage();

export const MAX_BODY_BYTES = 1024 * 1024; // every request body is capped at 1 MiB

export class HttpError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

// Reads the whole request body into a Buffer. Rejects with HttpError 413 past
// `limit` bytes (checked against Content-Length first, then while streaming).
export async function readBody(req, limit = MAX_BODY_BYTES) {
  const declared = req.headers['content-length'];
  if (declared !== undefined && Number(declared) > limit) {
    throw new HttpError(413, 'request body too large');
  }
  const chunks = [];
  let size = 0;
  for await (const chunk of req) {
    size += chunk.length;
    if (size > limit) throw new HttpError(413, 'request body too large');
    chunks.push(chunk);
  }
  return Buffer.concat(chunks, size);
}

// Parses a JSON request body already read into `buf`. Empty body -> {}.
export function parseJson(buf) {
  if (!buf || buf.length === 0) return {};
  try {
    return JSON.parse(buf.toString('utf8'));
  } catch {
    throw new HttpError(400, 'request body is not valid JSON');
  }
}

export function parseForm(buf) {
  return Object.fromEntries(new URLSearchParams(buf ? buf.toString('utf8') : ''));
}

export function sendJson(res, status, body, headers = {}) {
  const text = body === undefined ? '' : JSON.stringify(body);
  res.writeHead(status, {
    'Content-Type': 'application/json',
    'Content-Length': Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}

export function sendHtml(res, status, html, headers = {}) {
  res.writeHead(status, {
    'Content-Type': 'text/html; charset=utf-8',
    'Content-Length': Buffer.byteLength(html),
    'Cache-Control': 'no-store',
    ...headers,
  });
  res.end(html);
}

export function redirect(res, status, location, headers = {}) {
  res.writeHead(status, { Location: location, 'Content-Length': 0, 'Cache-Control': 'no-store', ...headers });
  res.end();
}

export function escapeHtml(s) {
  return String(s ?? '').replace(/[&<>"']/g, (c) => ({
    '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;',
  }[c]));
}

// A page in the simulator's look (plain HTML, no JavaScript).
export function page(title, bodyHtml) {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font-family:system-ui,sans-serif;background:#f4f4f6;margin:0;color:#1d1d21}
main{max-width:26rem;margin:3rem auto;background:#fff;border:1px solid #d7d7dc;border-radius:6px;padding:2rem}
h1{font-size:1.3rem;margin-top:0} label{display:block;margin:.8rem 0 .2rem}
input[type=text],input[type=password]{width:100%;box-sizing:border-box;padding:.5rem;font-size:1rem}
button{margin-top:1.2rem;padding:.6rem 1.2rem;font-size:1rem;background:#1662dd;color:#fff;border:0;border-radius:4px}
.error{background:#fde8e8;border:1px solid #e0a0a0;padding:.6rem;border-radius:4px}
table{border-collapse:collapse;margin-top:1rem;font-size:.9rem} td,th{border:1px solid #ddd;padding:.3rem .5rem;text-align:left}
.sim{color:#777;font-size:.8rem;margin-top:1.5rem}
</style></head>
<body><main>${bodyHtml}<p class="sim">okta-sim: a local Okta simulator for tests</p></main></body></html>
`;
}

// ---- Okta API error objects -------------------------------------------------

// Okta's error catalogue entries the simulator uses: code -> [status, summary].
export const OKTA_ERRORS = {
  E0000001: [400, 'Api validation failed: {0}'],
  E0000003: [400, 'The request body was not well-formed.'],
  E0000005: [403, 'Invalid session'],
  E0000006: [403, 'You do not have permission to perform the requested action'],
  E0000007: [404, 'Not found: {0}'],
  E0000009: [500, 'Internal Server Error'],
  E0000011: [401, 'Invalid token provided'],
  E0000022: [405, 'The endpoint does not support the provided HTTP method'],
  E0000031: [400, 'Invalid search criteria.'],
  E0000038: [403, "This operation is not allowed in the user's current status."],
  E0000047: [429, 'API call exceeded rate limit due to too many requests.'],
  E0000010: [503, 'Service is in read only mode'],
};

export class OktaError extends Error {
  // `arg` fills the catalogue's {0}; `causes` become errorCauses[].errorSummary
  constructor(code, arg = undefined, causes = [], status = undefined) {
    const [defStatus, template] = OKTA_ERRORS[code] || [500, 'Internal Server Error'];
    const summary = template.includes('{0}') ? template.replace('{0}', arg ?? '') : template;
    super(summary);
    this.code = code;
    this.status = status || defStatus;
    this.causes = causes;
  }

  body() {
    return oktaErrorBody(this.code, this.message, this.causes);
  }
}

export function oktaErrorBody(code, summary, causes = []) {
  return {
    errorCode: code,
    errorSummary: summary,
    errorLink: code,
    errorId: errorId(),
    errorCauses: causes.map((c) => ({ errorSummary: c })),
  };
}

export function sendOktaError(res, err, headers = {}) {
  sendJson(res, err.status, err.body(), headers);
}
