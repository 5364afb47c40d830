// A real browser (headless Chromium via playwright-core): open the protected sample app, land on the simulator's
// sign-in form, sign in as alice, and end on the sample app showing her email. Skipped without /usr/bin/chromium.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { startSignInEnv, stopAll, USERS } from './lib/signin.mjs';
import { makePki } from './lib/index.mjs';

const CHROMIUM = '/usr/bin/chromium';
const haveChromium = fs.existsSync(CHROMIUM);

describe('sign-in in a real browser', { skip: haveChromium ? false : `${CHROMIUM} is missing` }, () => {
  let env, browser;
  before(async () => {
    const { chromium } = await import('playwright-core');
    // assigned one by one, so `after` can clean up whichever started
    const launching = chromium
      .launch({
        executablePath: CHROMIUM,
        args: [
          '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
          '--disable-component-update', '--disable-sync',
        ],
      })
      .then((b) => (browser = b));
    const starting = startSignInEnv({
      routes: (u) => [{ from: 'http://127.0.0.1', to: u.origin, allow_any_authenticated_user: true, pass_identity_headers: true }],
    }).then((e) => (env = e));
    const results = await Promise.allSettled([launching, starting]);
    for (const r of results) if (r.status === 'rejected') throw r.reason;
  });
  after(() => stopAll(() => browser?.close(), env?.stop));

  it('alice signs in through the IdP form and sees the sample app', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    const visited = [];
    page.on('framenavigated', (f) => {
      if (f === page.mainFrame()) visited.push(f.url());
    });
    const start = `${env.route}/app/home?tab=1`;
    await page.goto(start, { waitUntil: 'domcontentloaded', timeout: 10_000 });
    assert.ok(page.url().startsWith(`${env.sim.url}/signin/`), `landed on the IdP sign-in page: ${page.url()}\n${visited.join('\n')}`);
    await page.fill('#username', USERS.alice.login);
    await page.fill('#password', USERS.alice.password);
    await Promise.all([
      page.waitForURL(start, { timeout: 10_000 }),
      page.click('#okta-signin-submit'),
    ]);
    assert.equal(await page.title(), 'Postern sample app');
    assert.equal((await page.textContent('#user'))?.trim(), 'alice@example.com');
    const cookies = await context.cookies(env.route);
    const session = cookies.find((c) => c.name === '_pomerium');
    assert.ok(session, `the browser holds _pomerium: ${JSON.stringify(cookies.map((c) => c.name))}`);
    assert.equal(session.httpOnly, true);
    assert.equal(session.sameSite, 'Lax');

    // a reload stays signed in; /.pomerium/ shows the user
    await page.goto(`${env.route}/.pomerium/`, { waitUntil: 'domcontentloaded' });
    assert.ok((await page.content()).includes('alice@example.com'), 'the user page shows alice');
    await context.close();
  });

  it('two sign-ins at once in one browser (two tabs) both complete', async () => {
    const context = await browser.newContext();
    const [first, second] = [await context.newPage(), await context.newPage()];
    const one = `${env.route}/tab/one`, two = `${env.route}/tab/two`;
    // Both tabs start signing in before either finishes: each has its own sign-in state.
    await first.goto(one, { waitUntil: 'domcontentloaded', timeout: 10_000 });
    await second.goto(two, { waitUntil: 'domcontentloaded', timeout: 10_000 });
    for (const page of [first, second]) {
      assert.ok(page.url().startsWith(`${env.sim.url}/signin/`), `on the IdP form: ${page.url()}`);
    }
    const flows = (await context.cookies(env.auth)).filter((c) => c.name.startsWith('_pomerium_csrf_'));
    assert.equal(flows.length, 2, `one sign-in cookie per flow: ${flows.map((c) => c.name)}`);
    for (const [page, target] of [[first, one], [second, two]]) {
      await page.fill('#username', USERS.alice.login);
      await page.fill('#password', USERS.alice.password);
      await Promise.all([page.waitForURL(target, { timeout: 10_000 }), page.click('#okta-signin-submit')]);
      assert.equal((await page.textContent('#user'))?.trim(), 'alice@example.com', `${target} is signed in`);
    }
    const left = (await context.cookies(env.auth)).filter((c) => c.name.startsWith('_pomerium_csrf_'));
    assert.equal(left.length, 0, `each flow's cookie is spent: ${left.map((c) => c.name)}`);
    await context.close();
  });
});

// The same sign-in over HTTPS, where Chromium and Postern agree on HTTP/2 by ALPN: every page Postern serves (the
// redirect to the IdP, the callback, the sample app through the proxy, /.pomerium/) travels over h2.
describe('sign-in in a real browser over HTTPS and HTTP/2', { skip: haveChromium ? false : `${CHROMIUM} is missing` }, () => {
  let env, browser;
  before(async () => {
    const { chromium } = await import('playwright-core');
    const pki = makePki();
    const launching = chromium
      .launch({
        executablePath: CHROMIUM,
        args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
          '--disable-component-update', '--disable-sync'],
      })
      .then((b) => (browser = b));
    const starting = startSignInEnv({
      https: { certFile: pki.server.certFile, keyFile: pki.server.keyFile, caPem: pki.caPem },
      routes: (u) => [{ from: 'https://127.0.0.1', to: u.origin, allow_any_authenticated_user: true, pass_identity_headers: true }],
    }).then((e) => (env = e));
    const results = await Promise.allSettled([launching, starting]);
    for (const r of results) if (r.status === 'rejected') throw r.reason;
  });
  after(() => stopAll(() => browser?.close(), env?.stop));

  it('alice signs in and every Postern page came over h2', async () => {
    const context = await browser.newContext({ ignoreHTTPSErrors: true });  // the test CA is not in Chromium's store
    const page = await context.newPage();
    const start = `${env.route}/app/h2?x=1`;
    await page.goto(start, { waitUntil: 'domcontentloaded', timeout: 10_000 });
    assert.ok(page.url().startsWith(`${env.sim.url}/signin/`), `landed on the IdP sign-in page: ${page.url()}`);
    await page.fill('#username', USERS.alice.login);
    await page.fill('#password', USERS.alice.password);
    await Promise.all([page.waitForURL(start, { timeout: 10_000 }), page.click('#okta-signin-submit')]);
    assert.equal((await page.textContent('#user'))?.trim(), 'alice@example.com');
    const protocol = await page.evaluate(() => performance.getEntriesByType('navigation')[0].nextHopProtocol);
    assert.equal(protocol, 'h2', 'the proxied page came over HTTP/2');
    await page.goto(`${env.route}/.pomerium/`, { waitUntil: 'domcontentloaded' });
    assert.ok((await page.content()).includes('alice@example.com'));
    assert.equal(await page.evaluate(() => performance.getEntriesByType('navigation')[0].nextHopProtocol), 'h2');
    await context.close();
  });
});
