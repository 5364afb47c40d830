#pragma once
// The pages Postern answers with itself when it cannot or will not forward: a small HTML page, or JSON when the
// client prefers it. Each carries the status, one plain sentence and the request id; never a token, cookie or
// internal detail.
#include <span>
#include <string>
#include <string_view>

namespace postern::portal {

// True when the Accept header ranks application/json (or a +json type) above text/html.
[[nodiscard]] bool prefers_json(std::string_view accept) noexcept;
// True when the Accept header admits text/html (explicitly or through a wildcard), or is empty.
[[nodiscard]] bool accepts_html(std::string_view accept) noexcept;

struct RenderedPage {
  std::string content_type;
  std::string body;
};

// `link_url` / `link_text`, when given, add one way forward ("Sign in again").
[[nodiscard]] RenderedPage render_error(unsigned status, std::string_view sentence, std::string_view request_id,
                                        bool json, std::string_view link_url = {}, std::string_view link_text = {});

// The 403 page for a request the route's policy denied: the request id, who is signed in (when someone is) and,
// with the route's show_error_details, the reasons (which rule denied, the criteria and their values).
[[nodiscard]] RenderedPage render_denied(std::string_view request_id, std::string_view email,
                                         std::span<const std::string> details, bool json);

// A page of Postern's own (user info, signed out): `body_html` is trusted markup built by the caller with
// html_escape'd values.
[[nodiscard]] std::string render_page(std::string_view title, std::string_view body_html);

// The standard reason phrase ("Bad Gateway") for a status.
[[nodiscard]] std::string_view reason_phrase(unsigned status) noexcept;

}  // namespace postern::portal
