// Node's HTTP/2 client, promise-shaped, for the HTTP/2 and gRPC end-to-end tests.
import http2 from 'node:http2';

// An HTTP/2 session to `url`, once connected.
export function h2connect(url, options = {}) {
  return new Promise((resolve, reject) => {
    const s = http2.connect(url, options);
    s.once('connect', () => resolve(s));
    s.once('error', reject);
  });
}

// One request on `session`; resolves { status, headers, body (Buffer) }. On a stream error it rejects with the error,
// given `head` (the response head, if one came) and `received` (the body bytes so far).
export function h2request(session, headers, body) {
  return new Promise((resolve, reject) => {
    const req = session.request(headers, { endStream: body === undefined });
    const chunks = [];
    let head;
    req.on('response', (h) => (head = h));
    req.on('data', (d) => chunks.push(d));
    req.on('end', () => resolve({ status: head?.[':status'], headers: head ?? {}, body: Buffer.concat(chunks) }));
    req.on('error', (err) => reject(Object.assign(err, { head, received: Buffer.concat(chunks) })));
    if (body !== undefined) req.end(body);
  });
}
