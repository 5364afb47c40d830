// Memory per session in the memory store, with Okta-sized tokens (issue 11's figure; target ≤ 2 KiB). Builds
// `count` sessions the way a sign-in does (an RS256 ID token of an Okta org with five groups, a refresh token, the
// claims of the ID token merged with userinfo), puts them in the store and counts the live heap bytes that adds
// (operator new/delete replaced: allocated − freed, malloc_usable_size). Run: build/bench/micro/postern_session_memory_bench [count]

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <new>
#include <random>
#include <string>

#include "core/base64.h"
#include "refresh/schedule.h"
#include "store/session_store.h"
#include "heap_counter.h"

using postern::bench::live_bytes;

namespace {

std::mt19937_64 rng{42};

std::string random_b64(std::size_t raw_bytes) {
  std::string raw(raw_bytes, '\0');
  for (auto& c : raw) c = static_cast<char>(rng());
  return postern::core::base64url_encode(raw);
}

std::string okta_id(char kind) {
  static const char alphabet[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
  std::string id = std::string("00") + kind;
  while (id.size() < 20) id += alphabet[rng() % 62];
  return id;
}

// What an Okta org authorization server puts in an ID token with the groups scope (five groups), as JSON.
std::string id_token_claims(const std::string& sub, const std::string& email, std::int64_t now) {
  return "{\"sub\":\"" + sub + "\",\"name\":\"Alice Example\",\"email\":\"" + email +
         "\",\"ver\":1,\"iss\":\"https://example.okta.com\",\"aud\":\"0oa1b2c3d4e5f6g7h8i9\",\"iat\":" +
         std::to_string(now) + ",\"exp\":" + std::to_string(now + 3600) + ",\"jti\":\"ID." + random_b64(32) +
         "\",\"amr\":[\"pwd\",\"mfa\",\"otp\"],\"idp\":\"00o1b2c3d4e5f6g7h8i9\",\"nonce\":\"" + random_b64(24) +
         "\",\"preferred_username\":\"" + email + "\",\"auth_time\":" + std::to_string(now) + ",\"at_hash\":\"" +
         random_b64(16) + "\",\"groups\":[\"Everyone\",\"Engineering\",\"Engineering Leads\",\"VPN Users\",\"GitHub\"]}";
}

}  // namespace

int main(int argc, char** argv) {
  const int count = argc > 1 ? std::atoi(argv[1]) : 20'000;
  using postern::session::Clock;
  // A configuration whose policies ask for no claim beyond groups (the common case: allowed_groups, domains, users).
  postern::session::Claims::index_only({});
  auto store = postern::store::make_memory_store();
  const auto now = Clock::now();
  const std::int64_t unix_now = std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
  std::size_t token_bytes = 0, claims_bytes = 0, id_token_bytes = 0;
  long long index_bytes = 0;
  const long long live0 = live_bytes.load();
  for (int i = 0; i < count; ++i) {
    auto s = std::make_shared<postern::session::Session>();
    s->id = random_b64(32);
    s->user_id = okta_id('u');
    s->email = "user" + std::to_string(i) + "@example.com";
    s->name = "Alice Example";
    const std::string claims = id_token_claims(s->user_id, s->email, unix_now);
    const std::string id_token =
        random_b64(60) + "." + postern::core::base64url_encode(claims) + "." + random_b64(256);  // RS256
    id_token_bytes += id_token.size();
    s->id_token = id_token;
    s->refresh_token = random_b64(32);
    // The access token (a custom authorization server's JWT, ~1 KB) is not kept: a refresh brings a new one and
    // revoking the refresh token revokes it (see session.h).
    // Merged with userinfo: given/family name, locale, zoneinfo, updated_at, email_verified.
    const std::string all_claims = claims.substr(0, claims.size() - 1) +
                     ",\"given_name\":\"Alice\",\"family_name\":\"Example\",\"locale\":\"en-US\",\"zoneinfo\":"
                     "\"America/Los_Angeles\",\"updated_at\":" +
                     std::to_string(unix_now - 86400) + ",\"email_verified\":true}";
    // As a sign-in leaves them: exact-size strings (the concatenations above over-allocate).
    const long long before_index = live_bytes.load();
    s->set_claims(all_claims);
    s->extra_claims.shrink_to_fit();
    index_bytes += live_bytes.load() - before_index;
    s->nonce = random_b64(24);
    s->issued_at = now;
    s->expires_at = now + std::chrono::hours(14);
    s->tokens_expire_at = now + std::chrono::hours(1);
    s->refresh_due_at = postern::refresh::first_due(now, s->tokens_expire_at);
    token_bytes += id_token.size() + s->refresh_token.size();
    claims_bytes += s->extra_claims.size();
    (void)store->put(std::move(s));
  }
  const long long stored = live_bytes.load() - live0;  // the records, their strings and claims, the store's indices
  std::printf("sessions: %d\n", count);
  std::printf("token text per session: %zu bytes (ID token %zu, refresh 43)\n", token_bytes / count,
              id_token_bytes / count);
  std::printf("claims beyond the ID token's (userinfo) per session: %zu bytes\n", claims_bytes / count);
  std::printf("of which the claims (the index of groups and what policy asks for, and the claims beyond the ID token's): "
              "%lld bytes\n", index_bytes / count);
  std::printf("heap per session in the memory store: %lld bytes (%.2f KiB)\n", stored / count,
              static_cast<double>(stored) / count / 1024.0);
  return 0;
}
