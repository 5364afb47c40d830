// Okta's wording for OAuth errors, and its error page.
//
// oidc-provider has its own (correct, but different) error descriptions; the
// simulator swaps in Okta's documented texts (okta.md §1.3-1.5, from Okta's
// oauth2 error-code catalogue) where it knows them and keeps oidc-provider's
// text otherwise. Only `error_description` and, in a few documented cases, the
// error code change; which requests fail is decided by oidc-provider.

import { page, escapeHtml } from './http-util.mjs';

// Okta's error_description for the documented cases; undefined keeps
// oidc-provider's own text.
export function oktaDescriptionFor(err, grantType = undefined) {
  if (!err) return undefined;
  const detail = err.error_detail ?? '';
  switch (err.error ?? err.message) {
    case 'invalid_redirect_uri':
      return "The 'redirect_uri' parameter must be a Login redirect URI in the client app settings.";
    case 'invalid_client':
      if (/client not found|client is invalid/.test(detail)) return "Invalid value for 'client_id' parameter.";
      if (/invalid secret/.test(detail)) return 'The client secret supplied for a confidential client is invalid.';
      if (/only be used once/.test(detail)) return 'The client_assertion token has already been used.';
      if (/"exp" claim|expired/.test(detail)) return 'The client_assertion token is expired.';
      if (/signature/.test(detail)) return 'The client_assertion signature is invalid.';
      if (/no applicable key|kid/.test(detail)) return 'The client_assertion JWT kid is invalid.';
      if (/audience/.test(detail)) return 'The audience claim for client_assertion must be the endpoint invoked for the request.';
      if (/does not match the registered client authentication method/.test(detail)) return 'Client authentication failed. The client authentication method does not match the one configured for the client.';
      return undefined;
    case 'invalid_request':
      if (/no client authentication mechanism/.test(detail)) return 'No client credentials found.';
      if (/code_challenge_method/.test(err.error_description ?? '')) return 'PKCE code challenge method is not supported. Use S256.';
      if (/policy requires PKCE/.test(err.error_description ?? '')) return 'PKCE code challenge is required by the application.';
      return undefined;
    case 'invalid_grant':
      if (grantType === 'refresh_token') return 'The refresh token is invalid or expired.';
      if (/client mismatch/.test(detail)) return "The grant was issued to another client. Please make sure the 'client_id' matches the one used at the authorize request.";
      if (/redirect_uri mismatch/.test(detail)) return "The 'redirect_uri' does not match the redirection URI used in the authorization request.";
      if (/code_verifier/.test(detail)) return 'PKCE verification failed.';
      if (grantType === 'authorization_code') return 'The authorization code is invalid or has expired.';
      return undefined;
    case 'login_required':
      return "A 'prompt' value of 'none' requires an existing session to successfully authorize.";
    case 'unauthorized_client':
      return 'The client is not authorized to use the provided grant type.';
    default:
      return undefined;
  }
}

// Okta's 400 error page for authorization errors that must not redirect.
export function errorPage(error, description) {
  return page('Error', `<h1>400 Bad Request</h1>
<div class="error"><p><strong id="error-code">${escapeHtml(error)}</strong></p>
<p id="error-description">${escapeHtml(description ?? '')}</p></div>`);
}
