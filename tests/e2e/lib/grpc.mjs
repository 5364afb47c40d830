// A real gRPC service (@grpc/grpc-js, over h2c or TLS) and its client, for the gRPC end-to-end tests and the gRPC
// benchmark. Messages are raw bytes (no protobuf schema needed): JSON objects for the commands, plain bytes for the
// large-message methods. The server records what it saw (metadata, cancellations) so tests can assert the upstream
// side of each call.
import grpc from '@grpc/grpc-js';
import crypto from 'node:crypto';

const raw = {
  requestSerialize: (b) => b,
  requestDeserialize: (b) => b,
  responseSerialize: (b) => b,
  responseDeserialize: (b) => b,
};
const method = (name, requestStream, responseStream) => ({
  path: `/postern.test.Echo/${name}`, requestStream, responseStream, originalName: name, ...raw,
});

export const ECHO_SERVICE = {
  unary: method('Unary', false, false),
  serverStream: method('ServerStream', false, true),
  clientStream: method('ClientStream', true, false),
  bidi: method('Bidi', true, true),
  hash: method('Hash', false, false), // raw bytes in, their sha256 (hex) out
  blob: method('Blob', false, false), // {size} in, that many pattern bytes out
};

export const json = (o) => Buffer.from(JSON.stringify(o));
export const parse = (b) => JSON.parse(b.toString());
export const pattern = (size) => {
  const b = Buffer.alloc(size);
  for (let i = 0; i < size; i++) b[i] = (i * 31 + 7) & 0xff;
  return b;
};
export const sha256 = (b) => crypto.createHash('sha256').update(b).digest('hex');

const LIMITS = { 'grpc.max_receive_message_length': 64 << 20, 'grpc.max_send_message_length': 64 << 20 };

// Starts the Echo service on 127.0.0.1:<free port>. `tls`: { certPem, keyPem } to serve TLS (ALPN h2). `record`
// false keeps only the count of calls (a benchmark's millions of calls would fill memory).
export async function startGrpcServer({ tls, record = true } = {}) {
  const seen = { calls: [], cancelled: [], count: 0 };
  const server = new grpc.Server(LIMITS);
  const note = (name, call) => {
    const entry = { method: name, metadata: call.metadata.getMap() };
    seen.count++;
    if (record) seen.calls.push(entry);
    call.on('cancelled', () => seen.cancelled.push(name));
    return entry;
  };
  server.addService(ECHO_SERVICE, {
    unary(call, callback) {
      const entry = note('Unary', call);
      const req = parse(call.request);
      const finish = () => {
        if (req.code) {
          const trailer = new grpc.Metadata();
          trailer.set('x-detail', 'from-upstream');
          callback({ code: req.code, details: req.message ?? '', metadata: trailer });
          return;
        }
        const trailer = new grpc.Metadata();
        trailer.set('x-trailer', 'kept');
        callback(null, json({ echo: req.echo, metadata: entry.metadata }), trailer);
      };
      if (req.delayMs) setTimeout(finish, req.delayMs);
      else finish();
    },
    serverStream(call) {
      note('ServerStream', call);
      const req = parse(call.request);
      let i = 0;
      const next = () => {
        if (call.cancelled) return;
        if (i === req.count) {
          call.end();
          return;
        }
        call.write(json({ i: i++ }));
        if (req.intervalMs) setTimeout(next, req.intervalMs);
        else setImmediate(next);
      };
      next();
    },
    clientStream(call, callback) {
      note('ClientStream', call);
      let sum = 0;
      let count = 0;
      call.on('data', (m) => {
        sum += parse(m).n;
        count++;
      });
      call.on('end', () => callback(null, json({ sum, count })));
    },
    bidi(call) {
      note('Bidi', call);
      call.on('data', (m) => call.write(json({ n: parse(m).n * 2 })));
      call.on('end', () => call.end());
    },
    hash(call, callback) {
      note('Hash', call);
      callback(null, Buffer.from(`${call.request.length}:${sha256(call.request)}`));
    },
    blob(call, callback) {
      note('Blob', call);
      callback(null, pattern(parse(call.request).size));
    },
  });
  const creds = tls
    ? grpc.ServerCredentials.createSsl(null, [{ private_key: Buffer.from(tls.keyPem), cert_chain: Buffer.from(tls.certPem) }])
    : grpc.ServerCredentials.createInsecure();
  const port = await new Promise((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', creds, (err, p) => (err ? reject(err) : resolve(p))),
  );
  return {
    port,
    origin: `${tls ? 'https' : 'h2c'}://127.0.0.1:${port}`,
    seen,
    stop: () => new Promise((resolve) => server.tryShutdown(() => resolve())),
    kill: () => server.forceShutdown(),
  };
}

const EchoClient = grpc.makeGenericClientConstructor(ECHO_SERVICE, 'Echo');

// A client for the Echo service at `address` (host:port), presenting `authority` as :authority. `ca`: TLS with that
// CA (the name checked is the authority's host).
export function echoClient(address, { authority, ca } = {}) {
  const options = { ...LIMITS };
  if (authority) options['grpc.default_authority'] = authority;
  let creds = grpc.credentials.createInsecure();
  if (ca) {
    creds = grpc.credentials.createSsl(Buffer.from(ca));
    if (authority) options['grpc.ssl_target_name_override'] = authority.replace(/:\d+$/, '');
  }
  return new EchoClient(address, creds, options);
}

export const metadata = (pairs = {}) => {
  const m = new grpc.Metadata();
  for (const [k, v] of Object.entries(pairs)) m.set(k, v);
  return m;
};

// Promise forms of the four call kinds. Each resolves { message(s), status } or rejects with the gRPC error (which
// has .code, .details, .metadata).
export function unary(client, name, request, { md = metadata(), deadlineMs } = {}) {
  return new Promise((resolve, reject) => {
    // The callback and the 'status' event may come in either order: settle once both are in.
    let status;
    let outcome;
    const settle = () => {
      if (!status || !outcome) return;
      if (outcome.err) reject(outcome.err);
      else resolve({ message: outcome.res, status });
    };
    const options = deadlineMs ? { deadline: Date.now() + deadlineMs } : {};
    const call = client[name](request, md, options, (err, res) => {
      outcome = { err, res };
      settle();
    });
    call.on('status', (s) => {
      status = s;
      settle();
    });
  });
}

export function serverStream(client, request, { md = metadata(), deadlineMs } = {}) {
  return new Promise((resolve, reject) => {
    const options = deadlineMs ? { deadline: Date.now() + deadlineMs } : {};
    const call = client.serverStream(request, md, options);
    const messages = [];
    call.on('data', (m) => messages.push(parse(m)));
    call.on('error', (err) => reject(Object.assign(err, { messages })));
    call.on('status', (status) => {
      if (status.code === grpc.status.OK) resolve({ messages, status });
    });
  });
}

export { grpc };
