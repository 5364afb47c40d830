#include "proxy/wire.h"

#include <boost/beast/http/status.hpp>

namespace postern::proxy {
namespace http = boost::beast::http;
namespace {

// Beast keeps each field as one contiguous "Name: value\r\n" line (which its own serializer writes as it is), so
// a field is one copy here.
std::string_view field_line(const Fields::value_type& f) noexcept {
  const char* begin = f.name_string().data();
  const auto value = f.value();
  return {begin, static_cast<std::size_t>(value.data() + value.size() + 2 - begin)};
}

void append_fields(const Fields& fields, std::string& out) {
  for (const auto& f : fields) {
    const auto line = field_line(f);
    BOOST_ASSERT(line.substr(f.name_string().size(), 2) == ": " && line.ends_with("\r\n"));
    out += line;
  }
  out += "\r\n";
}

}  // namespace

void append_request_head(const RequestHeader& req, std::string& out) {
  out += req.method_string();
  out += ' ';
  out += req.target();
  out += req.version() == 10 ? " HTTP/1.0\r\n" : " HTTP/1.1\r\n";
  append_fields(req, out);
}

void append_response_head(const ResponseHeader& res, std::string& out) {
  out += res.version() == 10 ? "HTTP/1.0 " : "HTTP/1.1 ";
  const unsigned code = res.result_int();
  out += static_cast<char>('0' + code / 100 % 10);
  out += static_cast<char>('0' + code / 10 % 10);
  out += static_cast<char>('0' + code % 10);
  out += ' ';
  const auto reason = res.reason();
  out += reason.empty() ? http::obsolete_reason(res.result()) : reason;
  out += "\r\n";
  append_fields(res, out);
}

std::size_t chunk_size_line(std::size_t n, char* out) noexcept {
  static constexpr char digits[] = "0123456789abcdef";
  char tmp[16];
  std::size_t len = 0;
  do {
    tmp[len++] = digits[n & 0xf];
    n >>= 4;
  } while (n != 0);
  for (std::size_t i = 0; i < len; ++i) out[i] = tmp[len - 1 - i];
  out[len] = '\r';
  out[len + 1] = '\n';
  return len + 2;
}

}  // namespace postern::proxy
