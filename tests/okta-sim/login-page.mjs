// The sign-in page: a plain HTML form (no JavaScript) that people use in a
// browser and scripts post directly.
//
//   GET  /signin/{server}/{uid}   the form (or, when only consent is pending,
//                                 an immediate redirect: Okta shows no consent
//                                 screen for first-party apps)
//   POST /signin/{server}/{uid}   username=...&password=...  -> 303 back to the
//                                 authorization server, which redirects to the
//                                 app with ?code=...&state=...
//   GET  /signin/signed-out       where /v1/logout lands without a
//                                 post_logout_redirect_uri
//
// A failed sign-in re-renders the form with status 401 and Okta's generic
// "Unable to sign in" (same text for unknown user, bad password and users who
// may not sign in). A user not assigned to the app (client `assigned_groups`)
// is sent back to the app with error=access_denied.

import { CAN_SIGN_IN } from './directory.mjs';
import { userTarget } from './system-log.mjs';
import {
  page, escapeHtml, sendHtml, parseForm,
} from './http-util.mjs';

export class LoginPage {
  constructor(sim, oidc) {
    this.sim = sim;
    this.oidc = oidc;
  }

  // Returns true when the request was a sign-in page request (and was answered).
  async handle(req, res, url, body) {
    if (!url.pathname.startsWith('/signin/')) return false;
    await this.#serve(req, res, url, body);
    return true;
  }

  async #serve(req, res, url, body) {
    if (url.pathname === '/signin/signed-out') {
      sendHtml(res, 200, page('Signed out', '<h1>You have been signed out</h1><p>Your Okta session has ended.</p>'));
      return true;
    }
    const m = /^\/signin\/([a-z0-9]+)\/([A-Za-z0-9_-]{1,128})$/.exec(url.pathname);
    const provider = m && this.oidc.provider(m[1]);
    if (!provider) {
      sendHtml(res, 404, page('Not found', '<h1>Not found</h1>'));
      return true;
    }
    let details;
    try {
      details = await provider.interactionDetails(req, res);
      if (details.uid !== m[2]) throw new Error('interaction mismatch');
    } catch {
      sendHtml(res, 400, page('Sign-in expired', `<h1>Your sign-in request has expired</h1>
<p>Return to the application and sign in again.</p>`));
      return true;
    }

    const client = this.sim.clients.get(details.params.client_id);
    if (details.prompt.name !== 'login') {
      // consent (or any other prompt): Okta asks nothing of first-party apps
      const accountId = details.session?.accountId;
      const user = accountId && this.sim.directory.findUser(accountId);
      if (!user) return this.#render(res, 400, url, client, 'Your session has ended. Sign in again.');
      return this.#finish(provider, req, res, details, user, client, false);
    }

    if (req.method === 'GET' || req.method === 'HEAD') return this.#render(res, 200, url, client);
    if (req.method !== 'POST') return this.#render(res, 405, url, client, 'Method not allowed.');

    const form = parseForm(body);
    const username = String(form.username ?? form.login ?? '').trim();
    const user = username && this.sim.directory.findUser(username);
    if (!user || !CAN_SIGN_IN.has(user.status) || !this.sim.directory.checkPassword(user, String(form.password ?? ''))) {
      return this.#render(res, 401, url, client, 'Unable to sign in', username);
    }
    return this.#finish(provider, req, res, details, user, client, true);
  }

  async #finish(provider, req, res, details, user, client, freshLogin) {
    if (client?.assigned_groups?.length) {
      const mine = new Set(this.sim.directory.groupsOf(user.id).map((g) => g.profile.name));
      if (!client.assigned_groups.some((g) => mine.has(g))) {
        return provider.interactionFinished(req, res, {
          error: 'access_denied',
          error_description: 'User is not assigned to the client application.',
        }, { mergeWithLastSubmission: false });
      }
    }

    // First-party apps get every requested scope and claim without a consent screen.
    const grant = details.grantId
      ? await provider.Grant.find(details.grantId)
      : new provider.Grant({ accountId: user.id, clientId: details.params.client_id });
    if (details.params.scope) grant.addOIDCScope(details.params.scope);
    if (details.params.claims) {
      try {
        const claims = JSON.parse(details.params.claims);
        grant.addOIDCClaims([...Object.keys(claims.id_token ?? {}), ...Object.keys(claims.userinfo ?? {})]);
      } catch { /* oidc-provider validated the claims parameter already */ }
    }
    const grantId = await grant.save();

    const result = { consent: { grantId } };
    if (freshLogin) {
      // remember: false = a session cookie without expiry (Okta's default)
      result.login = { accountId: user.id, amr: ['pwd'], remember: false };
      this.sim.directory.recordLogin(user);
      this.sim.systemLog.append('user.session.start', {
        actor: userTarget(user),
        targets: [],
        debugData: client ? { clientId: client.client_id } : undefined,
      });
    }
    return provider.interactionFinished(req, res, result, { mergeWithLastSubmission: false });
  }

  #render(res, status, url, client, error = undefined, username = '') {
    const appName = client?.metadata.client_name ?? client?.client_id ?? 'the application';
    const demo = this.sim.settings.login_page_lists_users
      ? this.sim.directory.listUsers()
        .filter((u) => CAN_SIGN_IN.has(u.status) && u.password && u.listOnLoginPage !== false)
        .slice(0, 20)
      : [];
    const demoHtml = demo.length ? `<p>Demo users:</p><table><tr><th>Username</th><th>Password</th></tr>${
      demo.map((u) => `<tr><td>${escapeHtml(u.profile.login)}</td><td><code>${escapeHtml(u.password)}</code></td></tr>`).join('')
    }</table>` : '';
    sendHtml(res, status, page('Sign In', `<h1>Sign In</h1>
<p>to continue to ${escapeHtml(appName)}</p>
${error ? `<p class="error" role="alert" id="error">${escapeHtml(error)}</p>` : ''}
<form method="post" action="${escapeHtml(url.pathname)}" id="okta-sign-in">
<label for="username">Username</label>
<input type="text" id="username" name="username" autocomplete="username" value="${escapeHtml(username)}" autofocus required>
<label for="password">Password</label>
<input type="password" id="password" name="password" autocomplete="current-password" required>
<button type="submit" id="okta-signin-submit">Sign In</button>
</form>
${demoHtml}`));
    return true;
  }
}
