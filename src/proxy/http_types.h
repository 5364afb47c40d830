#pragma once
// The HTTP message types of the data path. Header fields are allocated from a per-request arena (a monotonic buffer
// on the connection), so parsing and rewriting a request's headers costs no malloc/free per field.
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/fields.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <memory_resource>

namespace postern::proxy {

using FieldsAllocator = std::pmr::polymorphic_allocator<char>;
using Fields = boost::beast::http::basic_fields<FieldsAllocator>;
using RequestHeader = boost::beast::http::request_header<Fields>;
using ResponseHeader = boost::beast::http::response_header<Fields>;
// A client's request: Beast's fields (Postern's endpoints and policy look headers up by name). An upstream's
// response is parsed flat instead (upstream_response.h).
using RequestParser = boost::beast::http::parser<true, boost::beast::http::buffer_body, FieldsAllocator>;
// Responses Postern writes itself.
using LocalResponse = boost::beast::http::response<boost::beast::http::string_body, Fields>;

}  // namespace postern::proxy
