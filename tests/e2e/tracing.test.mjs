// OpenTelemetry traces over OTLP/HTTP: an OTLP receiver in this process (POST /v1/traces, JSON encoding) collects
// what Postern exports; the sample upstream echoes the traceparent it received. Checked: a client's sampled trace is
// continued (same trace id, Postern's server span parented by the client's span, the upstream's parent is Postern's
// client span), a request without one starts a trace, an unsampled parent is passed through untouched and exports
// nothing, a malformed traceparent starts a new trace, the ratio 0 exports nothing, a denied request carries the
// decision, the configured headers reach the receiver (and never the logs), and a receiver answering 503 gets the
// spans on a retry.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { startPostern, startUpstream, publicRoute, sleep } from './lib/index.mjs';

// A minimal OTLP/HTTP traces receiver. `fail` answers that many requests with 503 first.
async function startReceiver(t, { fail = 0 } = {}) {
  const requests = [];
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      if (req.method !== 'POST' || req.url !== '/v1/traces') {
        res.writeHead(404).end();
        return;
      }
      if (fail > 0) {
        fail -= 1;
        res.writeHead(503).end();
        return;
      }
      requests.push({ headers: req.headers, body: JSON.parse(Buffer.concat(chunks).toString('utf8')) });
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => new Promise((r) => server.close(r)));
  const spans = () =>
    requests.flatMap((r) =>
      r.body.resourceSpans.flatMap((rs) => rs.scopeSpans.flatMap((ss) => ss.spans.map((s) => ({ ...s, resource: rs.resource })))),
    );
  return {
    origin: `http://127.0.0.1:${server.address().port}`,
    requests,
    spans,
    async waitForSpans(pred, count, timeoutMs = 5000) {
      const until = Date.now() + timeoutMs;
      while (Date.now() < until) {
        const found = spans().filter(pred);
        if (found.length >= count) return found;
        await sleep(50);
      }
      throw new Error(`expected ${count} span(s); got ${JSON.stringify(spans(), null, 1).slice(0, 3000)}`);
    },
  };
}

const attr = (span, key) => {
  const a = span.attributes.find((x) => x.key === key);
  if (!a) return undefined;
  return a.value.stringValue ?? (a.value.intValue !== undefined ? Number(a.value.intValue) : undefined);
};

const CLIENT_TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const CLIENT_SPAN = '00f067aa0ba902b7';

async function setup(t, { ratio, receiverOptions } = {}) {
  const receiver = await startReceiver(t, receiverOptions);
  const up = await startUpstream({ t });
  const config = {
    address: '127.0.0.1:0',
    insecure_server: true,
    health_check_addr: '127.0.0.1:0',
    otel_traces_exporter: 'otlp',
    otel_exporter_otlp_endpoint: receiver.origin,
    otel_exporter_otlp_headers: { Authorization: 'Bearer otlp-secret-token' },
    routes: [
      publicRoute('http://app.example.test', up.origin),
      { from: 'http://closed.example.test', to: up.origin, policy: [{ allow: { and: [{ http_method: 'DELETE' }] } }] },
    ],
  };
  if (ratio !== undefined) config.otel_traces_sampler_arg = ratio;
  const p = await startPostern({ config, t });
  return { receiver, up, p };
}

describe('OpenTelemetry traces', () => {
  it('continues a sampled client trace: server span under the client, client span named in the upstream traceparent', async (t) => {
    const { receiver, p } = await setup(t);
    const res = await p.request('http://app.example.test/some/path?q=1', {
      headers: { traceparent: `00-${CLIENT_TRACE}-${CLIENT_SPAN}-01` },
    });
    assert.equal(res.status, 200);
    const upstreamSaw = res.json().headers.traceparent;
    const m = /^00-([0-9a-f]{32})-([0-9a-f]{16})-01$/.exec(upstreamSaw);
    assert.ok(m, `upstream traceparent: ${upstreamSaw}`);
    assert.equal(m[1], CLIENT_TRACE, 'same trace');
    assert.notEqual(m[2], CLIENT_SPAN, 'Postern put its own span in as the parent');

    const spans = await receiver.waitForSpans((s) => s.traceId === CLIENT_TRACE, 2);
    const server = spans.find((s) => s.kind === 2);
    const client = spans.find((s) => s.kind === 3);
    assert.ok(server && client, JSON.stringify(spans));
    assert.equal(server.parentSpanId, CLIENT_SPAN);
    assert.equal(client.parentSpanId, server.spanId);
    assert.equal(client.spanId, m[2], "the upstream's parent is Postern's client span");
    assert.equal(attr(server, 'http.request.method'), 'GET');
    assert.equal(attr(server, 'url.path'), '/some/path');
    assert.equal(attr(server, 'http.response.status_code'), 200);
    assert.equal(attr(server, 'pomerium.route'), 'http://app.example.test');
    assert.equal(attr(server, 'pomerium.decision'), 'allow');
    assert.equal(attr(server, 'pomerium.request_id'), res.headers['x-request-id']);
    assert.equal(attr(client, 'http.response.status_code'), 200);
    assert.ok(BigInt(server.startTimeUnixNano) <= BigInt(client.startTimeUnixNano));
    assert.ok(BigInt(client.endTimeUnixNano) <= BigInt(server.endTimeUnixNano) + 1_000_000n);
    const nowNs = BigInt(Date.now()) * 1_000_000n;
    assert.ok(nowNs - BigInt(server.startTimeUnixNano) < 60_000_000_000n, 'start time is wall-clock now');
    const service = server.resource.attributes.find((a) => a.key === 'service.name');
    assert.equal(service.value.stringValue, 'postern');

    const r = receiver.requests[0];
    assert.match(r.headers['content-type'], /^application\/json/);
    assert.equal(r.headers.authorization, 'Bearer otlp-secret-token');
    assert.ok(!p.stderr.includes('otlp-secret-token') && !p.stdout.includes('otlp-secret-token'), 'no credential in logs');
  });

  it('starts a trace when the client sent none, or a malformed one', async (t) => {
    const { receiver, p } = await setup(t);
    for (const headers of [{}, { traceparent: `00-${CLIENT_TRACE.toUpperCase()}-${CLIENT_SPAN}-01` }]) {
      const res = await p.request('http://app.example.test/', { headers });
      const m = /^00-([0-9a-f]{32})-([0-9a-f]{16})-01$/.exec(res.json().headers.traceparent);
      assert.ok(m, JSON.stringify(res.json().headers));
      assert.notEqual(m[1], CLIENT_TRACE);
      const [server] = await receiver.waitForSpans((s) => s.traceId === m[1] && s.kind === 2, 1);
      assert.equal(server.parentSpanId, undefined, 'a root span');
    }
  });

  it('passes an unsampled parent through untouched and exports nothing for it', async (t) => {
    const { receiver, p } = await setup(t);
    const tp = `00-${CLIENT_TRACE}-${CLIENT_SPAN}-00`;
    const res = await p.request('http://app.example.test/', { headers: { traceparent: tp } });
    assert.equal(res.json().headers.traceparent, tp);
    await p.request('http://app.example.test/marker'); // sampled: proves the exporter ran since
    await receiver.waitForSpans((s) => attr(s, 'url.path') === '/marker', 1);
    assert.equal(receiver.spans().filter((s) => s.traceId === CLIENT_TRACE).length, 0);
  });

  it('with otel_traces_sampler_arg 0 exports nothing and adds no traceparent', async (t) => {
    const { receiver, p } = await setup(t, { ratio: 0 });
    for (let i = 0; i < 20; i++) {
      const res = await p.request('http://app.example.test/');
      assert.equal(res.json().headers.traceparent, undefined);
    }
    await sleep(1600); // past the 1 s batch interval
    assert.equal(receiver.spans().length, 0);
  });

  it('records a denied request with its decision and no upstream span', async (t) => {
    const { receiver, p } = await setup(t);
    const res = await p.request('http://closed.example.test/x', { method: 'POST', body: 'a' });
    assert.equal(res.status, 403);
    const [server] = await receiver.waitForSpans((s) => attr(s, 'url.path') === '/x', 1);
    assert.equal(attr(server, 'pomerium.decision'), 'deny');
    assert.equal(attr(server, 'http.response.status_code'), 403);
    await sleep(300);
    assert.equal(receiver.spans().filter((s) => s.traceId === server.traceId).length, 1);
  });

  it('retries an export the receiver answered with 503', async (t) => {
    const { receiver, p } = await setup(t, { receiverOptions: { fail: 2 } });
    await p.request('http://app.example.test/retried');
    await receiver.waitForSpans((s) => attr(s, 'url.path') === '/retried', 1, 10_000);
    assert.ok(p.messages().some((m) => m.startsWith('trace export failed')));
  });
});
