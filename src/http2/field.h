#pragma once
// A header field of an HTTP/2 message.
#include <string>

namespace postern::http2 {

struct Field {
  std::string name;  // lower case (HTTP/2 requires it; nghttp2 refuses upper case)
  std::string value;
};

}  // namespace postern::http2
