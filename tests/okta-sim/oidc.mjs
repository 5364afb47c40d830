// Okta's two kinds of authorization server on top of oidc-provider.
//
//   org server:     issuer {base}                 endpoints {base}/oauth2/v1/...
//   custom server:  issuer {base}/oauth2/default  endpoints {base}/oauth2/default/v1/...
//
// Each is one oidc-provider instance with its own keys and its own OidcStore.
// The http server hands requests over with handle(); this module then does, in
// front of oidc-provider:
//   - discovery and JWKS documents (Okta's field set, Cache-Control on keys);
//   - /v1/logout (Okta's end-session: id_token_hint required, expired hints
//     accepted, registered post_logout_redirect_uri, state echoed, 302);
//   - private_key_jwt checks Okta makes and oidc-provider does not (aud must be
//     the endpoint URL, exp at most 1 h ahead);
//   - translation of custom-server JWT access tokens back to oidc-provider's
//     opaque handles (userinfo, introspect, revoke);
// and behind it (a Koa middleware on each provider):
//   - Okta's error texts for documented cases, no `iss` in authorization
//     responses (Okta sends none), Okta's userinfo WWW-Authenticate strings;
//   - custom-server access tokens re-issued as Okta-shaped JWTs (ID token
//     at_hash recomputed) and queued ID token defects (defects.mjs).
// The thin-ID-token switch lives in findAccount() (claims for the ID token).
//
// Contracts with the rest of the simulator:
//   - findAccount() resolves only users whose status can sign in (ACTIVE,
//     PASSWORD_EXPIRED): tokens of a suspended or deactivated user stop working
//     at userinfo and refresh even if they were not purged;
//   - revokeUser() purges sessions, grants, codes and tokens of one user in both
//     servers; clearSessions() only the sessions (unless oauthTokens);
//   - rebuild() recreates the Provider objects (new signing key, new client
//     list) while keeping every stored session, grant and token.

import { randomBytes } from 'node:crypto';

import Provider, { errors } from 'oidc-provider';
import { SignJWT, decodeJwt, decodeProtectedHeader, compactVerify } from 'jose';

import { nowSec } from './clock.mjs';
import { CAN_SIGN_IN } from './directory.mjs';
import { OidcStore } from './oidc-store.mjs';
import { appTarget, userTarget } from './system-log.mjs';
import { sendHtml, sendJson, redirect, parseForm } from './http-util.mjs';
import { oktaDescriptionFor, errorPage } from './oidc-errors.mjs';
import { DefectQueue, resignIdToken } from './defects.mjs';
import { randomAlnum } from './ids.mjs';

export const SERVER_NAMES = ['org', 'default'];

const OKTA_SCOPES = ['okta.users.read', 'okta.groups.read', 'okta.logs.read', 'okta.users.manage', 'okta.groups.manage'];
const OIDC_SCOPES = ['openid', 'profile', 'email', 'address', 'phone', 'offline_access', 'groups'];

// Claims per scope; ver/idp/jti/amr ride on `openid` so they reach the ID
// token (they are only ever available there: findAccount returns ver/idp/jti
// for the ID token only, and oidc-provider adds amr only to ID tokens).
const CLAIMS = {
  openid: ['sub', 'ver', 'idp', 'jti', 'amr'],
  profile: ['name', 'nickname', 'preferred_username', 'given_name', 'middle_name', 'family_name', 'profile',
    'zoneinfo', 'locale', 'updated_at', 'picture', 'website', 'gender', 'birthdate'],
  email: ['email', 'email_verified'],
  address: ['address'],
  phone: ['phone_number'],
  groups: ['groups'],
};

// What a thin ID token keeps (org server, when an access token is issued too).
const THIN_ID_TOKEN_CLAIMS = new Set(['sub', 'ver', 'idp', 'jti', 'amr', 'email', 'name', 'preferred_username']);

const AUTH_METHODS = ['client_secret_basic', 'client_secret_post', 'client_secret_jwt', 'private_key_jwt', 'none'];

export class OidcLayer {
  // sim: the shared simulator state (see server.mjs): baseUrl, directory,
  // systemLog, settings, clients (Map client_id -> normalised client), keys.
  constructor(sim) {
    this.sim = sim;
    this.cookieKeys = [randomBytes(32).toString('base64url')];
    this.servers = {};
    this.atAliases = new Map(); // custom-server JWT jti -> { opaque, exp }
    this.defects = new DefectQueue(SERVER_NAMES);
    for (const name of SERVER_NAMES) {
      this.servers[name] = {
        name,
        mount: name === 'org' ? '' : `/oauth2/${name}`,
        issuer: name === 'org' ? sim.baseUrl : `${sim.baseUrl}/oauth2/${name}`,
        store: new OidcStore({ leewaySeconds: (clientId) => this.#leeway(clientId) }),
        provider: undefined,
        callback: undefined,
      };
    }
  }

  #leeway(clientId) {
    const c = this.sim.clients.get(clientId);
    return c?.refresh_token?.rotation_type === 'ROTATE' ? c.refresh_token.leeway : 0;
  }

  // Endpoint URL of `route` ('authorize', 'token', ...) on server `name`.
  endpoint(name, route) {
    return name === 'org' ? `${this.sim.baseUrl}/oauth2/v1/${route}` : `${this.servers[name].issuer}/v1/${route}`;
  }

  async build() {
    for (const name of SERVER_NAMES) this.#buildProvider(name);
  }

  // Recreates both providers (after key rotation or client registration).
  async rebuild() {
    await this.build();
  }

  reset() {
    for (const s of Object.values(this.servers)) s.store.clear();
    this.atAliases.clear();
    this.defects.clear();
  }

  provider(name) {
    return this.servers[name]?.provider;
  }

  // ---- provider construction ----------------------------------------------

  #buildProvider(name) {
    const srv = this.servers[name];
    const { sim } = this;
    const base = name === 'org' ? '/oauth2/v1' : '/v1';
    const simClient = (client) => sim.clients.get(client.clientId);
    const lifetimes = () => sim.settings.lifetimes[name];

    const clients = [...sim.clients.values()]
      .filter((c) => c.servers.includes(name))
      .map((c) => c.metadata);

    const configuration = {
      adapter: srv.store.adapterClass(),
      clients,
      findAccount: (ctx, id) => this.#findAccount(name, ctx, id),
      claims: CLAIMS,
      scopes: name === 'org' ? [...OIDC_SCOPES, ...OKTA_SCOPES] : OIDC_SCOPES,
      conformIdTokenClaims: false,
      allowOmittingSingleRegisteredRedirectUri: false,
      responseTypes: ['code'],
      clientAuthMethods: AUTH_METHODS,
      jwks: { keys: [sim.keys[name].signingJwk()] },
      cookies: {
        keys: this.cookieKeys,
        names: {
          session: `okta_sim_${name}_session`,
          interaction: `okta_sim_${name}_interaction`,
          resume: `okta_sim_${name}_resume`,
        },
        long: { signed: true, httpOnly: true, sameSite: 'lax' },
        short: { signed: true, httpOnly: true, sameSite: 'lax' },
      },
      pkce: {
        required: (ctx, client) => client.clientAuthMethod === 'none' || simClient(client)?.pkce_required === true,
      },
      features: {
        devInteractions: { enabled: false },
        introspection: { enabled: true },
        revocation: { enabled: true },
        rpInitiatedLogout: { enabled: true },
        userinfo: { enabled: true },
        clientCredentials: { enabled: name === 'org' },
      },
      extraParams: {
        state: async (ctx, value) => this.#checkState(value),
        scope: async (ctx, value) => this.#checkScopes(name, ctx, value),
      },
      interactions: {
        url: (ctx, interaction) => `${sim.baseUrl}/signin/${name}/${interaction.uid}`,
      },
      expiresWithSession: async () => false,
      rotateRefreshToken: (ctx) => simClient(ctx.oidc.client)?.refresh_token?.rotation_type === 'ROTATE',
      issueRefreshToken: async (ctx, client, code) => client.grantTypeAllowed('refresh_token') && code.scopes.has('offline_access'),
      ttl: {
        AccessToken: () => lifetimes().access_token,
        AuthorizationCode: () => lifetimes().authorization_code,
        ClientCredentials: () => 3600, // Okta: "fixed at one hour"
        IdToken: () => lifetimes().id_token,
        // a rotated refresh token keeps the first one's expiry (Okta)
        RefreshToken: (ctx) => ctx?.oidc?.entities?.RotatedRefreshToken?.remainingTTL ?? lifetimes().refresh_token,
        Grant: () => lifetimes().refresh_token,
        Session: () => lifetimes().session_idle,
        Interaction: () => 3600,
        DeviceCode: () => 600,
        BackchannelAuthenticationRequest: () => 600,
      },
      renderError: async (ctx, out, err) => {
        // Okta reports a bad redirect_uri as invalid_request on its error page
        const error = out.error === 'invalid_redirect_uri' ? 'invalid_request' : out.error;
        ctx.type = 'html';
        ctx.body = errorPage(error, oktaDescriptionFor(err) ?? out.error_description);
      },
      routes: {
        authorization: `${base}/authorize`,
        token: `${base}/token`,
        userinfo: `${base}/userinfo`,
        jwks: `${base}/keys`,
        revocation: `${base}/revoke`,
        introspection: `${base}/introspect`,
        end_session: `${base}/logout`,
        registration: `${base}/clients`,
        pushed_authorization_request: `${base}/par`,
        device_authorization: `${base}/device/authorize`,
        code_verification: `${base}/device`,
        backchannel_authentication: `${base}/bc/authorize`,
        challenge: `${base}/challenge`,
        credential: `${base}/credential`,
      },
    };

    const provider = new Provider(srv.issuer, configuration);
    provider.proxy = false;

    const stash = (ctx, err) => {
      if (ctx?.state) ctx.state.simError = err;
    };
    for (const ev of ['grant.error', 'authorization.error', 'userinfo.error', 'introspection.error',
      'revocation.error', 'end_session.error', 'discovery.error', 'jwks.error']) {
      provider.on(ev, stash);
    }
    provider.on('server_error', (ctx, err) => {
      stash(ctx, err);
      console.error(`okta-sim ${name} server_error:`, err);
    });
    provider.on('grant.error', (ctx, err) => {
      if (/refresh token already used/.test(err.error_detail ?? '')) {
        const user = sim.directory.findUser(ctx.oidc?.entities?.RefreshToken?.accountId ?? '');
        sim.systemLog.append(name === 'org' ? 'app.oauth2.token.detect_reuse' : 'app.oauth2.as.token.detect_reuse', {
          targets: [appTarget(ctx.oidc?.client?.clientId), ...(user ? [userTarget(user)] : [])],
          outcome: { result: 'FAILURE', reason: 'refresh token reuse' },
        });
      }
    });
    provider.on('authorization.success', (ctx) => {
      const user = sim.directory.findUser(ctx.oidc?.session?.accountId ?? '');
      const client = ctx.oidc?.client;
      if (user && client) {
        sim.systemLog.append('user.authentication.sso', {
          actor: userTarget(user),
          targets: [appTarget(client.clientId, client.clientName)],
        });
      }
    });

    provider.use(async (ctx, next) => {
      await next();
      await this.#afterProvider(name, ctx);
    });

    srv.provider = provider;
    srv.callback = provider.callback();
  }

  #checkState(value) {
    if (value === undefined || value === '') {
      throw new errors.InvalidRequest("The authorization request must include the 'state' parameter.");
    }
    if (this.sim.settings.strict_state && !/^[A-Za-z0-9,._-]+$/.test(value)) {
      throw new errors.InvalidRequest("The 'state' parameter may contain only alphanumerics, comma, period, underscore and hyphen.");
    }
  }

  // Runs after oidc-provider's own scope checks. OIDC Core drops offline_access
  // unless prompt=consent; Okta does not (it needs only a code response type and
  // a client allowed the refresh_token grant), so it is put back here.
  #checkScopes(name, ctx, value) {
    const raw = ctx.method === 'POST' ? ctx.oidc.body?.scope : ctx.query.scope;
    const requested = typeof raw === 'string' ? raw.split(' ').filter(Boolean) : [];
    const scopes = (value ?? '').split(' ').filter(Boolean);
    if (requested.includes('offline_access') && !scopes.includes('offline_access')
      && ctx.oidc.params.response_type?.includes('code') && ctx.oidc.client.grantTypeAllowed('refresh_token')) {
      scopes.push('offline_access');
      ctx.oidc.params.scope = scopes.join(' ');
    }
    for (const s of requested) {
      if (!scopes.includes(s) && s !== 'offline_access') scopes.push(s); // unknown scopes are reported below
    }
    if (!scopes.length) {
      throw new errors.InvalidScope('The authorization server resource does not have any configured default scopes, \'scope\' must be provided.');
    }
    const known = new Set(name === 'org' ? [...OIDC_SCOPES, ...OKTA_SCOPES] : OIDC_SCOPES);
    const unknown = scopes.filter((s) => !known.has(s));
    if (unknown.length) {
      throw new errors.InvalidScope('One or more scopes are not configured for the authorization server resource.', unknown.join(' '));
    }
    if (!scopes.includes('openid')) {
      throw new errors.InvalidScope("The 'openid' scope is required for this request.");
    }
  }

  async #findAccount(name, ctx, id) {
    const { directory, settings } = this.sim;
    const user = directory.findUser(id);
    if (!user || user.id !== id || !CAN_SIGN_IN.has(user.status)) return undefined;
    const client = ctx?.oidc?.client ? this.sim.clients.get(ctx.oidc.client.clientId) : undefined;
    const thin = settings.thin_id_token[name] === true;
    return {
      accountId: id,
      claims: async (use) => {
        const p = user.profile;
        const name_ = [p.firstName, p.middleName, p.lastName].filter(Boolean).join(' ') || p.login;
        let groups = directory.groupsOf(user.id).map((g) => g.profile.name);
        if (client?.groups_claim_filter) {
          const re = new RegExp(client.groups_claim_filter);
          groups = groups.filter((g) => re.test(g));
        }
        const all = {
          sub: id,
          name: name_,
          nickname: p.nickName ?? undefined,
          preferred_username: p.login,
          given_name: p.firstName ?? undefined,
          middle_name: p.middleName ?? undefined,
          family_name: p.lastName ?? undefined,
          zoneinfo: p.timezone ?? 'America/Los_Angeles',
          locale: p.locale ?? 'en_US',
          updated_at: Math.floor(user.lastUpdated / 1000),
          email: p.email,
          email_verified: true,
          ...(p.primaryPhone || p.mobilePhone ? { phone_number: p.primaryPhone ?? p.mobilePhone } : {}),
          groups,
        };
        if (use !== 'id_token') return all;
        const idClaims = {
          ...all,
          ver: 1,
          idp: this.sim.org.id,
          jti: `ID.${randomBytes(32).toString('base64url')}`,
        };
        if (!thin) return idClaims;
        return Object.fromEntries(Object.entries(idClaims).filter(([k]) => THIN_ID_TOKEN_CLAIMS.has(k)));
      },
    };
  }

  // ---- request handling ------------------------------------------------------

  // Which server (if any) serves `pathname`, and the path inside its mount.
  route(pathname) {
    for (const name of SERVER_NAMES) {
      if (name === 'org') continue;
      const { mount } = this.servers[name];
      if (pathname === mount || pathname.startsWith(`${mount}/`)) {
        return { name, inner: pathname.slice(mount.length) || '/' };
      }
    }
    if (pathname.startsWith('/oauth2/v1/') || pathname.startsWith('/.well-known/')) {
      return { name: 'org', inner: pathname };
    }
    return undefined;
  }

  // Serves one OIDC request. `body` is the already-read request body (Buffer).
  async handle(req, res, url, body) {
    const r = this.route(url.pathname);
    if (!r) return false;
    const { name, inner } = r;
    const srv = this.servers[name];
    const base = name === 'org' ? '/oauth2/v1' : '/v1';

    if (inner === '/.well-known/openid-configuration' || inner === '/.well-known/oauth-authorization-server') {
      if (req.method !== 'GET' && req.method !== 'HEAD') return sendJson(res, 405, { error: 'method_not_allowed' }), true;
      sendJson(res, 200, this.discovery(name, inner.endsWith('oauth-authorization-server')));
      return true;
    }
    if (inner === `${base}/keys`) {
      const maxAge = this.sim.settings.jwks_max_age;
      sendJson(res, 200, this.sim.keys[name].publicJwks(), {
        'Cache-Control': `max-age=${maxAge}, must-revalidate`,
        Expires: new Date(Date.now() + maxAge * 1000).toUTCString(),
      });
      return true;
    }
    if (inner === `${base}/logout`) {
      await this.#logout(name, req, res, url, body);
      return true;
    }

    let forwardBody = body;
    let search = url.search;
    if (req.method === 'POST' && inner === `${base}/authorize`) {
      // Okta takes /authorize as GET or form POST. oidc-provider's POST support
      // needs SameSite=None cookies (unusable over http), so a form POST is
      // served as the equivalent GET.
      if (!/^application\/x-www-form-urlencoded\b/i.test(req.headers['content-type'] ?? '')) {
        sendHtml(res, 400, errorPage('invalid_request', 'The authorization request body must be application/x-www-form-urlencoded.'));
        return true;
      }
      req.method = 'GET';
      search = `?${new URLSearchParams(body.toString('utf8')).toString()}`;
      forwardBody = Buffer.alloc(0);
      delete req.headers['content-type'];
      delete req.headers['content-length'];
    }
    if (req.method === 'POST' && (inner === `${base}/token` || inner === `${base}/introspect` || inner === `${base}/revoke`)) {
      const form = parseForm(body);
      const refusal = this.#checkClientAssertion(form, this.endpoint(name, inner.slice(base.length + 1)));
      if (refusal) {
        sendJson(res, 401, { error: 'invalid_client', error_description: refusal });
        return true;
      }
      if (name !== 'org' && form.token && inner !== `${base}/token`) {
        form.token = this.#opaqueFor(form.token);
        forwardBody = Buffer.from(new URLSearchParams(form).toString());
      }
    }
    if (name !== 'org' && inner === `${base}/userinfo`) {
      const auth = req.headers.authorization;
      const m = /^Bearer\s+(\S+)$/i.exec(auth ?? '');
      if (m) req.headers.authorization = `Bearer ${this.#opaqueFor(m[1])}`;
    }

    // Hand over to oidc-provider: the body was read already (the http server caps
    // it), so pass it as req.body; originalUrl tells oidc-provider its mount path.
    req.body = forwardBody;
    req.originalUrl = srv.mount + inner + search;
    req.url = inner + search;
    await srv.callback(req, res);
    return true;
  }

  // Okta's private_key_jwt / client_secret_jwt checks that oidc-provider does
  // not make. Returns an Okta error_description, or undefined when fine.
  #checkClientAssertion(form, endpointUrl) {
    if (!form.client_assertion) return undefined;
    let claims;
    try {
      claims = decodeJwt(form.client_assertion);
    } catch {
      return undefined; // oidc-provider rejects malformed assertions itself
    }
    const aud = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
    if (!aud.includes(endpointUrl)) return 'The audience claim for client_assertion must be the endpoint invoked for the request.';
    if (typeof claims.exp === 'number' && claims.exp > nowSec() + 3600) {
      return 'The client_assertion token has an expiration too far into the future.';
    }
    if (typeof claims.iat === 'number' && claims.iat > nowSec() + 60) {
      return 'The client_assertion token was issued in the future.';
    }
    return undefined;
  }

  // Maps a custom-server JWT access token to oidc-provider's opaque handle; any
  // other string is returned unchanged when opaque, or replaced by a value no
  // store knows when it is an unknown JWT (so the answer is "invalid token").
  #opaqueFor(token) {
    if (token.split('.').length !== 3) return token;
    try {
      const { jti } = decodeJwt(token);
      const alias = this.atAliases.get(jti);
      if (alias && alias.jwt === token) return alias.opaque;
    } catch { /* fall through */ }
    return `unknown-${randomAlnum(20)}`;
  }

  discovery(name, rfc8414 = false) {
    const srv = this.servers[name];
    const ep = (r) => this.endpoint(name, r);
    const doc = {
      issuer: srv.issuer,
      authorization_endpoint: ep('authorize'),
      token_endpoint: ep('token'),
      ...(rfc8414 ? {} : { userinfo_endpoint: ep('userinfo') }),
      jwks_uri: ep('keys'),
      response_types_supported: ['code'],
      response_modes_supported: ['query', 'fragment', 'form_post'],
      grant_types_supported: name === 'org'
        ? ['authorization_code', 'refresh_token', 'client_credentials']
        : ['authorization_code', 'refresh_token'],
      subject_types_supported: ['public'],
      ...(rfc8414 ? {} : { id_token_signing_alg_values_supported: ['RS256'] }),
      scopes_supported: name === 'org' ? [...OIDC_SCOPES, ...OKTA_SCOPES] : OIDC_SCOPES.filter((s) => s !== 'groups'),
      token_endpoint_auth_methods_supported: AUTH_METHODS,
      claims_supported: ['iss', 'ver', 'sub', 'aud', 'iat', 'exp', 'jti', 'auth_time', 'amr', 'idp', 'nonce', 'name',
        'nickname', 'preferred_username', 'given_name', 'middle_name', 'family_name', 'email', 'email_verified',
        'profile', 'zoneinfo', 'locale', 'address', 'phone_number', 'picture', 'website', 'gender', 'birthdate',
        'updated_at', 'at_hash', 'c_hash'],
      code_challenge_methods_supported: ['S256'],
      introspection_endpoint: ep('introspect'),
      introspection_endpoint_auth_methods_supported: AUTH_METHODS,
      revocation_endpoint: ep('revoke'),
      revocation_endpoint_auth_methods_supported: AUTH_METHODS,
      end_session_endpoint: ep('logout'),
      request_parameter_supported: false,
    };
    if (this.defects.take('discovery_issuer_mismatch', name)) doc.issuer = `${srv.issuer}/`;
    return doc;
  }

  // ---- logout ----------------------------------------------------------------

  async #logout(name, req, res, url, body) {
    const srv = this.servers[name];
    const params = req.method === 'POST' ? parseForm(body) : Object.fromEntries(url.searchParams);
    const fail = (error, description) => sendHtml(res, 400, errorPage(error, description));
    if (req.method !== 'GET' && req.method !== 'POST') return fail('invalid_request', 'Unsupported HTTP method.');
    if (!params.id_token_hint) return fail('invalid_request', "The 'id_token_hint' parameter is required.");

    // Any ID token this server signed is a valid hint, expired or not (Okta).
    let hint;
    try {
      const { kid } = decodeProtectedHeader(params.id_token_hint);
      const key = this.sim.keys[name].publicKey(kid);
      if (!key) throw new Error('unknown kid');
      const { payload } = await compactVerify(params.id_token_hint, key, { algorithms: ['RS256'] });
      hint = JSON.parse(Buffer.from(payload).toString('utf8'));
      if (hint.iss !== srv.issuer) throw new Error('issuer mismatch');
    } catch {
      return fail('invalid_token', "The 'id_token_hint' parameter is not a valid ID token issued by this authorization server.");
    }
    const clientId = Array.isArray(hint.aud) ? hint.aud[0] : hint.aud;
    const client = this.sim.clients.get(clientId);
    if (!client) return fail('invalid_client', "Invalid value for 'client_id' parameter.");
    const target = params.post_logout_redirect_uri;
    if (target !== undefined && !client.metadata.post_logout_redirect_uris.includes(target)) {
      return fail('invalid_request', "The 'post_logout_redirect_uri' parameter must be a Logout redirect URI in the client app settings.");
    }

    // End the browser's Okta session (one Okta session spans both servers).
    let ended = false;
    for (const s of Object.values(this.servers)) {
      const ctx = s.provider.createContext(req, res);
      const session = await s.provider.Session.get(ctx);
      if (session.accountId && session.accountId === hint.sub) {
        await session.destroy();
        ended = true;
      }
      if (session.accountId === undefined || session.accountId === hint.sub) {
        ctx.cookies.set(s.provider.cookieName('session'), null, { signed: true, httpOnly: true, sameSite: 'lax' });
      }
    }
    if (ended) {
      const user = this.sim.directory.findUser(hint.sub);
      if (user) this.sim.systemLog.append('user.session.end', { actor: userTarget(user), targets: [userTarget(user)] });
    }

    let location;
    if (target !== undefined) {
      const u = new URL(target);
      if (params.state !== undefined) u.searchParams.set('state', params.state);
      location = u.href;
    } else {
      location = `${this.sim.baseUrl}/signin/signed-out`;
    }
    redirect(res, 302, location);
  }

  // ---- after oidc-provider ---------------------------------------------------

  async #afterProvider(name, ctx) {
    const route = ctx.oidc?.route;
    if (!route) return;
    const err = ctx.state.simError;
    switch (route) {
      case 'authorization':
      case 'resume': {
        const loc = ctx.response.get('Location');
        if (!loc || ctx.status < 300 || ctx.status >= 400) return;
        const u = new URL(loc);
        let changed = u.searchParams.has('iss');
        u.searchParams.delete('iss'); // Okta sends no iss in authorization responses
        const desc = oktaDescriptionFor(err);
        if (desc && u.searchParams.has('error')) {
          u.searchParams.set('error_description', desc);
          changed = true;
        }
        if (/^openid scope must be requested/.test(err?.error_description ?? '')) {
          u.searchParams.set('error', 'invalid_scope'); // the simulator requires openid (checklist §7)
          u.searchParams.set('error_description', "The 'openid' scope is required for this request.");
          changed = true;
        }
        if (changed) {
          ctx.set('Location', u.href);
          ctx.body = '';
        }
        return;
      }
      case 'token': {
        const body = ctx.body;
        if (!body || typeof body !== 'object') return;
        if (body.error) {
          this.#rewriteError(ctx, err);
          return;
        }
        await this.#finishTokenResponse(name, ctx, body);
        return;
      }
      case 'userinfo': {
        if (ctx.status === 401 || ctx.status === 403) {
          const insufficient = ctx.status === 403;
          ctx.set('WWW-Authenticate', insufficient
            ? 'Bearer error="insufficient_scope", error_description="The access token must provide access to at least one of these scopes - profile, email, address or phone"'
            : 'Bearer error="invalid_token", error_description="The access token is invalid"');
          if (ctx.body && typeof ctx.body === 'object') {
            ctx.body = insufficient
              ? { error: 'insufficient_scope', error_description: 'The access token must provide access to at least one of these scopes - profile, email, address or phone' }
              : { error: 'invalid_token', error_description: 'The access token is invalid.' };
          }
          return;
        }
        if (ctx.status === 200 && ctx.body && typeof ctx.body === 'object'
          && this.defects.take('userinfo_sub_mismatch', name)) {
          ctx.body = { ...ctx.body, sub: `00u${randomAlnum(17)}` };
        }
        return;
      }
      case 'introspection': {
        const body = ctx.body;
        if (body?.active && body.sub) {
          const user = this.sim.directory.findUser(body.sub);
          if (user && user.id === body.sub) {
            body.uid = user.id;
            body.username = user.profile.login;
            if (name !== 'org') body.sub = user.profile.login;
          }
          if (name !== 'org') body.aud = 'api://default';
        } else if (body?.error) {
          this.#rewriteError(ctx, err);
        }
        return;
      }
      case 'revocation':
        if (ctx.body?.error) this.#rewriteError(ctx, err);
        return;
      default:
    }
  }

  #rewriteError(ctx, err) {
    if (!err) return;
    const body = ctx.body;
    if (/only be provided using one mechanism/.test(err.error_detail ?? err.error_description ?? '')) {
      ctx.status = 401;
      ctx.body = {
        error: 'invalid_request',
        error_description: 'Cannot supply multiple client credentials. Use one of the following: credentials in the Authorization header, credentials in the post body, or a client_assertion in the post body.',
      };
      return;
    }
    const grantType = ctx.oidc?.params?.grant_type;
    if (body.error === 'invalid_grant' && grantType === 'authorization_code'
      && /code_verifier must be provided/.test(err.error_detail ?? '')) {
      ctx.body = { error: 'invalid_request', error_description: 'PKCE code verifier is required by the application.' };
      return;
    }
    const desc = oktaDescriptionFor(err, grantType);
    if (desc) ctx.body = { ...body, error_description: desc };
  }

  // Custom server: access token -> Okta-shaped JWT. Both: ID token finishing.
  async #finishTokenResponse(name, ctx, body) {
    const srv = this.servers[name];
    const keys = this.sim.keys[name];
    let atChanged = false;
    if (name !== 'org' && body.access_token && ctx.oidc.params.grant_type !== 'client_credentials') {
      const at = await srv.provider.AccessToken.find(body.access_token);
      if (at) {
        const user = this.sim.directory.findUser(at.accountId);
        const jti = `AT.${randomBytes(24).toString('base64url')}`;
        const jwt = await new SignJWT({
          ver: 1,
          jti,
          iss: srv.issuer,
          aud: 'api://default',
          iat: at.iat,
          exp: at.exp,
          cid: at.clientId,
          uid: at.accountId,
          scp: [...at.scopes],
          auth_time: at.authTime ?? undefined,
          sub: user?.profile.login ?? at.accountId,
        }).setProtectedHeader({ alg: 'RS256', kid: keys.current.kid }).sign(keys.current.keyObject);
        this.#rememberAlias(jti, jwt, body.access_token, at.exp);
        body.access_token = jwt;
        atChanged = true;
      }
    }
    if (!body.id_token) return;
    const defect = this.defects.take('id_token', name, ctx.oidc.client?.clientId);
    if (!atChanged && !defect) return;
    body.id_token = await resignIdToken(body.id_token, keys, {
      accessToken: atChanged ? body.access_token : undefined,
      defect,
      clientSecret: this.sim.clients.get(ctx.oidc.client?.clientId)?.metadata.client_secret,
    });
  }

  #rememberAlias(jti, jwt, opaque, exp) {
    if (this.atAliases.size > 50_000) {
      const now = nowSec();
      for (const [k, v] of this.atAliases) if (v.exp <= now) this.atAliases.delete(k);
    }
    this.atAliases.set(jti, { jwt, opaque, exp });
  }

  // ---- directory hooks -------------------------------------------------------

  // Purges every session, grant, code and token of a user in both servers.
  revokeUser(userId) {
    let n = 0;
    for (const s of Object.values(this.servers)) n += s.store.purgeAccount(userId);
    return n;
  }

  clearSessions(userId, { oauthTokens = false } = {}) {
    if (oauthTokens) return this.revokeUser(userId);
    let n = 0;
    for (const s of Object.values(this.servers)) n += s.store.purgeAccount(userId, ['Session', 'Interaction']);
    return n;
  }

  // Looks up an org-server access token for the Management API. Returns
  // { clientId, scopes:Set, accountId? } or undefined when unknown, expired or
  // revoked. Custom-server tokens are never valid there ("not intended for Okta").
  async findOrgAccessToken(token) {
    const p = this.servers.org.provider;
    if (typeof token !== 'string' || token.length > 512) return undefined;
    const cc = await p.ClientCredentials.find(token);
    if (cc && !cc.isExpired) return { clientId: cc.clientId, scopes: cc.scopes };
    return undefined;
  }

  // Counts live records per model and server (control API introspection).
  stats() {
    const out = {};
    for (const [name, s] of Object.entries(this.servers)) {
      out[name] = {};
      for (const model of ['Session', 'Grant', 'AuthorizationCode', 'AccessToken', 'RefreshToken', 'ClientCredentials']) {
        out[name][model] = [...s.store.payloads(model)].length;
      }
    }
    return out;
  }
}
