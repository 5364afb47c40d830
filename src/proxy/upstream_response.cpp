#include "proxy/upstream_response.h"

#include <boost/beast/http/error.hpp>
#include <cstring>

#include "core/strings.h"

namespace postern::proxy {
namespace http = boost::beast::http;

std::string_view UpstreamResponse::operator[](std::string_view name) const noexcept {
  for (const auto& f : fields_)
    if (core::iequals(f.name_string, name)) return f.value;
  return {};
}

void UpstreamResponse::assign_h2(unsigned status, std::span<const http2::Field> fields) {
  status_ = status;
  version_ = 20;
  reason_ = {};
  fields_.clear();
  for (const auto& f : fields) fields_.push_back({http::string_to_field(f.name), f.name, f.value});
}

std::string_view UpstreamResponseParser::keep(string_view s) {
  if (s.empty()) return {};
  auto* p = static_cast<char*>(arena_->allocate(s.size(), 1));
  std::memcpy(p, s.data(), s.size());
  return {p, s.size()};
}

void UpstreamResponseParser::on_response_impl(int code, string_view reason, int version, error_code&) {
  res_.status_ = static_cast<unsigned>(code);
  res_.version_ = static_cast<unsigned>(version);
  res_.reason_ = keep(reason);
}

void UpstreamResponseParser::on_field_impl(http::field name, string_view name_string, string_view value,
                                           error_code&) {
  // One arena block for both strings.
  auto* p = static_cast<char*>(arena_->allocate(name_string.size() + value.size(), 1));
  std::memcpy(p, name_string.data(), name_string.size());
  if (!value.empty()) std::memcpy(p + name_string.size(), value.data(), value.size());
  res_.fields_.push_back({name, {p, name_string.size()}, {p + name_string.size(), value.size()}});
}

std::size_t UpstreamResponseParser::put_body(string_view body, error_code& ec) {
  auto& b = res_.body_;
  if (b.data == nullptr) {
    ec = http::error::need_buffer;
    return 0;
  }
  const std::size_t n = std::min(b.size, body.size());
  std::memcpy(b.data, body.data(), n);
  b.data = static_cast<char*>(b.data) + n;
  b.size -= n;
  if (n < body.size()) ec = http::error::need_buffer;
  return n;
}

}  // namespace postern::proxy
