#pragma once
// An upstream's response as Postern relays it. Beast's basic_parser does the HTTP/1.1 work (status line, field
// syntax, framing, limits, chunked decoding); the head is stored flat — status, reason and the fields in the order
// received, copied into the request's arena — instead of in Beast's basic_fields, whose per-field ordered index
// costs more to build than the rest of relaying a small response. A relayed head is only ever walked in order
// (see write_downstream_response_head), never searched. The body is delivered like http::buffer_body: into the
// caller's buffer at get().body().data/size. Internal to the proxy module.
#include <boost/beast/http/basic_parser.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/field.hpp>
#include <boost/beast/http/status.hpp>
#include <memory_resource>
#include <span>
#include <string_view>
#include <vector>

#include "http2/field.h"

namespace postern::proxy {

struct HeadField {
  boost::beast::http::field name;  // field::unknown for a name Beast does not know
  std::string_view name_string;    // as received
  std::string_view value;          // trimmed by Beast
};

class UpstreamResponse {
 public:
  explicit UpstreamResponse(std::pmr::memory_resource* arena) : fields_(arena) { fields_.reserve(16); }

  [[nodiscard]] unsigned result_int() const noexcept { return status_; }
  [[nodiscard]] boost::beast::http::status result() const noexcept {
    return boost::beast::http::int_to_status(status_);
  }
  [[nodiscard]] std::string_view reason() const noexcept { return reason_; }
  [[nodiscard]] unsigned version() const noexcept { return version_; }
  [[nodiscard]] const std::pmr::vector<HeadField>& fields() const noexcept { return fields_; }
  // The first value of a field, or "" (for tests and diagnostics; the relay path never searches).
  [[nodiscard]] std::string_view operator[](std::string_view name) const noexcept;
  [[nodiscard]] boost::beast::http::buffer_body::value_type& body() noexcept { return body_; }
  // The head of an HTTP/2 response (h2_forward.cpp): the fields are borrowed and must outlive this object.
  void assign_h2(unsigned status, std::span<const http2::Field> fields);

 private:
  friend class UpstreamResponseParser;
  unsigned status_ = 0;
  unsigned version_ = 11;
  std::string_view reason_;
  std::pmr::vector<HeadField> fields_;
  boost::beast::http::buffer_body::value_type body_{};
};

class UpstreamResponseParser final : public boost::beast::http::basic_parser<false> {
 public:
  explicit UpstreamResponseParser(std::pmr::memory_resource* arena) : arena_(arena), res_(arena) {}
  [[nodiscard]] UpstreamResponse& get() noexcept { return res_; }
  [[nodiscard]] const UpstreamResponse& get() const noexcept { return res_; }

 private:
  using error_code = boost::system::error_code;
  using string_view = boost::beast::string_view;
  // Views handed to the callbacks point into the caller's buffer (or the parser's own scratch for folded lines):
  // what is kept is copied into the arena.
  std::string_view keep(string_view s);

  void on_request_impl(boost::beast::http::verb, string_view, string_view, int, error_code&) override {}
  void on_response_impl(int code, string_view reason, int version, error_code& ec) override;
  void on_field_impl(boost::beast::http::field name, string_view name_string, string_view value,
                     error_code& ec) override;
  void on_header_impl(error_code&) override {}
  void on_body_init_impl(const boost::optional<std::uint64_t>&, error_code&) override {}
  std::size_t on_body_impl(string_view body, error_code& ec) override { return put_body(body, ec); }
  void on_chunk_header_impl(std::uint64_t, string_view, error_code&) override {}
  std::size_t on_chunk_body_impl(std::uint64_t, string_view body, error_code& ec) override {
    return put_body(body, ec);
  }
  void on_finish_impl(error_code&) override {}
  // Copies what fits into the caller's buffer; need_buffer when it is full (as buffer_body does).
  std::size_t put_body(string_view body, error_code& ec);

  std::pmr::memory_resource* arena_;
  UpstreamResponse res_;
};

}  // namespace postern::proxy
