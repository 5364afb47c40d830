#include "portal/error_page.h"

#include <fmt/format.h>

#include "core/strings.h"

namespace postern::portal {
namespace {

// Quality of the best Accept entry matching `type` ("text/html", "application/json"); -1 when none matches.
double quality_for(std::string_view accept, std::string_view type, bool json) {
  double best = -1;
  const std::string_view major = type.substr(0, type.find('/'));
  std::size_t start = 0;
  while (start <= accept.size()) {
    auto end = accept.find(',', start);
    if (end == std::string_view::npos) end = accept.size();
    std::string_view item = core::trim(accept.substr(start, end - start));
    start = end + 1;
    if (item.empty()) continue;
    double q = 1.0;
    const auto semi = item.find(';');
    std::string_view media = core::trim(item.substr(0, semi));
    if (semi != std::string_view::npos) {
      std::string_view params = item.substr(semi + 1);
      const auto qpos = params.find("q=");
      if (qpos != std::string_view::npos) {
        q = std::atof(std::string(params.substr(qpos + 2, 5)).c_str());
      }
    }
    // Exact types beat wildcards, so score a wildcard match slightly lower.
    double score = -1;
    if (core::iequals(media, type)) score = q;
    else if (json && media.size() > 5 && core::iequals(media.substr(media.size() - 5), "+json")) score = q;
    else if (media.size() == major.size() + 2 && core::iequals(media.substr(0, major.size()), major) &&
             media.substr(major.size()) == "/*")
      score = q - 0.0001;
    else if (media == "*/*") score = q - 0.0002;
    if (score > best) best = score;
  }
  return best;
}

}  // namespace

bool prefers_json(std::string_view accept) noexcept {
  if (accept.empty()) return false;
  const double json = quality_for(accept, "application/json", true);
  const double html = quality_for(accept, "text/html", false);
  return json > 0 && json > html;
}

bool accepts_html(std::string_view accept) noexcept {
  return core::trim(accept).empty() || quality_for(accept, "text/html", false) > 0;
}

std::string_view reason_phrase(unsigned status) noexcept {
  switch (status) {
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 413: return "Content Too Large";
    case 431: return "Request Header Fields Too Large";
    case 495: return "Invalid Client Certificate";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    default: return "Error";
  }
}

RenderedPage render_error(unsigned status, std::string_view sentence, std::string_view request_id, bool json,
                          std::string_view link_url, std::string_view link_text) {
  const std::string_view reason = reason_phrase(status);
  if (json) {
    const std::string link =
        link_url.empty() ? std::string() : fmt::format(",\"link\":\"{}\"", core::json_escape(link_url));
    return {"application/json",
            fmt::format("{{\"status\":{},\"error\":\"{}\",\"message\":\"{}\",\"request_id\":\"{}\"{}}}\n", status,
                        reason, core::json_escape(sentence), core::json_escape(request_id), link)};
  }
  const std::string link = link_url.empty() ? std::string()
                                            : fmt::format("<p><a class=\"button\" href=\"{}\">{}</a></p>",
                                                          core::html_escape(link_url), core::html_escape(link_text));
  return {"text/html; charset=utf-8",
          fmt::format("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
                      "<title>{0} {1}</title><style>body{{font-family:system-ui,sans-serif;max-width:40em;"
                      "margin:4em auto;padding:0 1em;color:#222}}h1{{font-size:1.6em}}"
                      ".id{{color:#666;font-size:.9em}}</style></head><body>"
                      "<h1>{0} {1}</h1><p>{2}</p>{4}<p class=\"id\">Request ID: <code>{3}</code></p>"
                      "<p class=\"id\">Postern</p></body></html>\n",
                      status, core::html_escape(reason), core::html_escape(sentence), core::html_escape(request_id),
                      link)};
}

RenderedPage render_denied(std::string_view request_id, std::string_view email,
                           std::span<const std::string> details, bool json) {
  static constexpr std::string_view sentence = "You are not allowed to access this page.";
  if (json) {
    std::string out = fmt::format("{{\"status\":403,\"error\":\"Forbidden\",\"message\":\"{}\",\"request_id\":\"{}\"",
                                  sentence, core::json_escape(request_id));
    if (!email.empty()) out += fmt::format(",\"email\":\"{}\"", core::json_escape(email));
    if (!details.empty()) {
      out += ",\"details\":[";
      for (std::size_t i = 0; i < details.size(); ++i)
        out += fmt::format("{}\"{}\"", i ? "," : "", core::json_escape(details[i]));
      out += "]";
    }
    return {"application/json", out + "}\n"};
  }
  std::string who = email.empty() ? std::string()
                                  : fmt::format("<p>Signed in as <strong>{}</strong>.</p>", core::html_escape(email));
  std::string why;
  if (!details.empty()) {
    why = "<h2>Why</h2><ul class=\"why\">";
    for (const auto& d : details) why += "<li>" + core::html_escape(d) + "</li>";
    why += "</ul>";
  }
  return {"text/html; charset=utf-8",
          fmt::format("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
                      "<title>403 Forbidden</title><style>body{{font-family:system-ui,sans-serif;max-width:44em;"
                      "margin:4em auto;padding:0 1em;color:#222}}h1{{font-size:1.6em}}h2{{font-size:1.1em}}"
                      ".why li{{font-family:ui-monospace,monospace;font-size:.9em;margin:.3em 0}}"
                      ".id{{color:#666;font-size:.9em}}</style></head><body>"
                      "<h1>403 Forbidden</h1><p>{0}</p>{1}{2}"
                      "<p><a href=\"/.pomerium/\">Your session</a></p>"
                      "<p class=\"id\">Request ID: <code>{3}</code></p><p class=\"id\">Postern</p></body></html>\n",
                      sentence, who, why, core::html_escape(request_id))};
}

std::string render_page(std::string_view title, std::string_view body_html) {
  return fmt::format("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                     "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
                     "<title>{0}</title><style>body{{font-family:system-ui,sans-serif;max-width:44em;"
                     "margin:4em auto;padding:0 1em;color:#222}}h1{{font-size:1.6em}}th,td{{text-align:left;"
                     "padding:.2em .8em .2em 0;vertical-align:top}}th{{color:#555;font-weight:normal}}"
                     "</style></head><body><h1>{0}</h1>{1}<p style=\"color:#666;font-size:.9em\">Postern</p>"
                     "</body></html>\n",
                     core::html_escape(title), body_html);
}

}  // namespace postern::portal
