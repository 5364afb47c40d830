// Fuzz target: a set_request_headers value with ${…} templates expanded (proxy::append_template_value). Whatever
// the value, the expansion ends, adds only the certificate facts it names, and never a line break that was not in
// the value (a SAN holding one is dropped, so no client certificate can add a header).
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "proxy/header_rewrite.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size > 16 * 1024) return 0;
  const std::string_view value(reinterpret_cast<const char*>(data), size);
  const std::vector<std::string> dns{"a.example.com", "evil\r\nX-Injected: 1"}, email{"alice@example.com"};
  postern::proxy::ForwardContext ctx{};
  ctx.client_cert_fingerprint = "0123456789abcdef";
  ctx.client_cert_san_dns = dns;
  ctx.client_cert_san_email = email;
  postern::proxy::HeadBuffer out;
  postern::proxy::append_template_value(out, value, ctx);
  const std::string_view written = out.view();
  const bool breaks_in = value.find_first_of("\r\n") != std::string_view::npos;
  if (!breaks_in && written.find_first_of("\r\n") != std::string_view::npos) std::abort();
  // Each byte of the value yields at most the longest expansion ("${pomerium.client_cert_san_dns}" is 31 bytes).
  if (written.size() > value.size() * 2 + 64) std::abort();
  return 0;
}
