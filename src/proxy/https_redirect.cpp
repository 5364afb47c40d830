#include "proxy/https_redirect.h"

#include <boost/asio/write.hpp>
#include <boost/beast/http.hpp>

#include "config/route_table.h"
#include "net/stream.h"
#include "proxy/message_reader.h"

namespace postern::proxy {
namespace http = boost::beast::http;

namespace {

std::string answer(unsigned status, std::string_view reason, std::string_view location, std::string_view body) {
  std::string out = "HTTP/1.1 " + std::to_string(status) + " " + std::string(reason) + "\r\n";
  if (!location.empty()) out += "Location: " + std::string(location) + "\r\n";
  out += "Content-Type: text/plain; charset=utf-8\r\nContent-Length: " + std::to_string(body.size()) +
         "\r\nConnection: close\r\n\r\n";
  out += body;
  return out;
}

}  // namespace

net::Task<void> serve_https_redirect(WorkerContext& worker, net::Socket socket, std::uint16_t https_port) {
  const auto shared = worker.shared;
  const auto& settings = shared->snapshot->settings;
  net::Stream stream(worker.watchdog, std::move(socket));
  ++worker.connections;
  struct Count {
    std::size_t& n;
    ~Count() { --n; }
  } count{worker.connections};

  stream.expire_after(settings.timeout_read, "request header read");
  boost::beast::flat_buffer buffer(64 * 1024);
  http::request_parser<http::empty_body> parser;
  parser.header_limit(64 * 1024);
  parser.eager(false);
  std::size_t consumed = 0;
  boost::system::error_code ec;
  if (!try_parse_head(buffer, parser, consumed, ec)) ec = co_await read_head(stream, buffer, parser, consumed);
  std::string response;
  if (ec) {
    if (stream.expired_by() || ec == http::error::end_of_stream) co_return;
    response = answer(400, "Bad Request", {}, "The request could not be parsed as HTTP/1.1.\n");
  } else {
    const auto& req = parser.get();
    const auto host = config::parse_host_header(req[http::field::host]);
    const std::string_view target = req.target();
    const auto& auth = settings.authenticate_service_url;
    const bool ours = host && (shared->snapshot->routes.match(host->host, https_port, "/").host_known ||
                               (!auth.empty() && host->host == auth.host));
    if (!host || target.empty() || target.front() != '/') {
      response = answer(400, "Bad Request", {}, "The request has a missing or invalid Host header or target.\n");
    } else if (!ours) {
      response = answer(404, "Not Found", {}, "There is no route for this host.\n");
    } else {
      std::string location = "https://" + host->host;
      if (https_port != 443) location += ":" + std::to_string(https_port);
      location += target;
      response = answer(301, "Moved Permanently", location, "Moved to " + location + "\n");
    }
  }
  stream.expire_after(settings.timeout_read, "response write");
  co_await boost::asio::async_write(stream, boost::asio::buffer(response), net::nothrow);
  stream.close();
}

}  // namespace postern::proxy
