// The policy from the command line: `postern validate` prints every policy error with file, line, route and key
// (and so does a normal start, which refuses to run); `postern policy check` answers "why can't Alice reach
// Grafana?" from the configuration alone.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { runPostern } from './lib/index.mjs';

const GRAFANA = `
address: 127.0.0.1:0
insecure_server: true
routes:
  - from: https://grafana.example.com
    to: http://127.0.0.1:9
    allowed_domains: [example.com]
    policy:
      - allow:
          and:
            - groups: {has: grafana-admins}
            - http_method: {in: [GET, POST]}
      - deny:
          or:
            - http_path: {starts_with: /admin}
  - from: https://office.example.com
    to: http://127.0.0.1:9
    policy:
      allow:
        or:
          - source_ip: 10.0.0.0/8
          - time_of_day: {timezone: Europe/Paris, after: "09:00", before: "18:00"}
`;

const check = (...args) => runPostern({ argv: ['policy', 'check', '--config', '{config}', ...args], config: GRAFANA });

describe('policy on the command line', () => {
  it('validate names the file, line, route and key of every policy error', async () => {
    const yaml = `routes:
  - from: https://a.example.com
    to: http://127.0.0.1:9
    policy:
      allow:
        or:
          - emial: a@example.com
          - groups: [a, b]
  - from: https://b.example.com
    to: http://127.0.0.1:9
    policy: {deny: {or: [{client_certificate: {san_dns: x}}]}}
`;
    const r = await runPostern({ argv: ['validate', '--config', '{config}'], config: yaml });
    assert.equal(r.code, 1, r.stdout + r.stderr);
    const lines = r.stderr.split('\n');
    const has = (re) => assert.ok(lines.some((l) => re.test(l)), `no line matches ${re}:\n${r.stderr}`);
    has(new RegExp(`^config error: ${r.configFile}:7: routes\\[0\\]\\.policy\\.allow\\.or\\[0\\]\\.emial: unknown criterion "emial"$`));
    has(new RegExp(`^config error: ${r.configFile}:8: routes\\[0\\]\\.policy\\.allow\\.or\\[1\\]\\.groups: .*one criterion per value`));
    has(/routes\[1\]\.policy: client_certificate and invalid_client_certificate need client certificates: set downstream_mtls\.ca/);
    // A normal start refuses the same file.
    const start = await runPostern({ config: yaml });
    assert.equal(start.code, 1);
    assert.ok(start.messages.some((m) => /unknown criterion "emial"/.test(m)), start.stderr);
  });

  it('allowed: exit 0, the rule and every criterion evaluated', async () => {
    const r = await check('--route', 'https://grafana.example.com/d/home', '--email', 'alice@example.com', '--group', 'grafana-admins');
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /^route: .*:5 from https:\/\/grafana\.example\.com$/m);
    assert.match(r.stdout, /^decision: allow$/m);
    assert.match(r.stdout, /allowed by the allow rule of allowed_domains/);
    assert.match(r.stdout, /allowed_domains allow\.or: domain is "example\.com" → true/);
  });

  it('denied: exit 2 and the deny rule that held', async () => {
    const r = await check('--route', 'https://grafana.example.com/admin/users', '--email', 'alice@example.com');
    assert.equal(r.code, 2, r.stdout + r.stderr);
    assert.match(r.stdout, /^decision: deny$/m);
    assert.match(r.stdout, /denied by the deny rule of routes\[0\]\.policy\[1\]/);
    assert.match(r.stdout, /routes\[0\]\.policy\[1\] deny\.or: http_path starts_with "\/admin" → true/);
  });

  it('why can\'t mallory reach Grafana: no allow rule holds, and which criteria failed', async () => {
    const r = await check('--route', 'https://grafana.example.com/', '--email', 'mallory@evil.example', '--method', 'DELETE');
    assert.equal(r.code, 2);
    assert.match(r.stdout, /no allow rule holds/);
    assert.match(r.stdout, /domain is "example\.com" → false/);
    assert.match(r.stdout, /groups has "grafana-admins" → false/);
  });

  it('anonymous: exit 3 when who the user is decides; source_ip and --at need no user', async () => {
    const r = await check('--route', 'https://grafana.example.com/', '--anonymous');
    assert.equal(r.code, 3, r.stdout + r.stderr);
    assert.match(r.stdout, /sign-in needed/);
    const office = await check('--route', 'https://office.example.com/', '--anonymous', '--source-ip', '10.1.2.3');
    assert.equal(office.code, 0, office.stdout);
    const late = await check('--route', 'https://office.example.com/', '--anonymous', '--source-ip', '8.8.8.8', '--at', '2026-12-02T20:00:00Z');
    assert.equal(late.code, 2, late.stdout);
    const day = await check('--route', 'https://office.example.com/', '--anonymous', '--source-ip', '8.8.8.8', '--at', '2026-12-02T10:00:00Z');
    assert.equal(day.code, 0, day.stdout);
  });

  it('a URL no route serves is an error (exit 1)', async () => {
    const r = await check('--route', 'https://nowhere.example.com/', '--email', 'a@example.com');
    assert.equal(r.code, 1);
    assert.match(r.stderr, /no route matches/);
  });
});
