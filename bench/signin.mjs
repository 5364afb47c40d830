// Sign in to a Postern route through the Okta simulator, like a browser, and print the session cookie for the
// load benchmark (bench/run.sh, target postern-signin).
//
//   node bench/signin.mjs URL [USER PASSWORD]
//
// URL is a route URL on Postern (e.g. http://127.0.0.1:18084/); USER/PASSWORD default to the demo seed's alice.
// Follows Postern's redirects to the authenticate host and the simulator's sign-in form, posts it, follows back to
// URL and requires a 200 there. Prints one line: `_pomerium=VALUE` (the Cookie header wrk sends). Everything else,
// and the redirect chain on failure, goes to stderr; exit status 1 on failure.
// Reuses the e2e harness's scripted browser (tests/e2e/lib/signin.mjs); every connection goes to 127.0.0.1.

import { Browser, signIn, describeHops } from '../tests/e2e/lib/signin.mjs';

const [url, user = 'alice@example.com', password = 'alice-password'] = process.argv.slice(2);
if (!url) {
  console.error('usage: node bench/signin.mjs URL [USER PASSWORD]');
  process.exit(2);
}

try {
  const browser = new Browser();
  const r = await signIn(browser, url, user, password);
  const fail = (why) => {
    throw new Error(`${why}\nredirect chain:\n${describeHops(r.hops)}`);
  };
  if (!r.formShown) fail('the simulator never showed its sign-in form');
  if (r.res.status !== 200) fail(`sign-in ended with HTTP ${r.res.status} at ${r.url}: ${r.res.text.slice(0, 500)}`);
  if (new URL(r.url).href !== new URL(url).href) fail(`sign-in ended at ${r.url}, not at ${url}`);
  const host = new URL(url).hostname;
  const value = browser.cookie(host, '_pomerium');
  if (!value) fail(`no _pomerium cookie for ${host}; cookies: ${browser.cookies(host).map((c) => c.name).join(', ') || 'none'}`);
  // The benchmark sends only this cookie: say so if Postern set others a browser would send to the route. (The
  // simulator's own session cookies, okta_sim_*, land on the same host name, 127.0.0.1, and are not Postern's.)
  const others = browser.cookies(host).filter((c) => c.name !== '_pomerium' && !c.name.startsWith('okta_sim_'));
  if (others.length) console.error(`signin.mjs: note: Postern also set ${others.map((c) => c.name).join(', ')}; not sent`);
  process.stdout.write(`_pomerium=${value}\n`);
} catch (err) {
  console.error(`signin.mjs: ${err.message}`);
  process.exit(1);
}
