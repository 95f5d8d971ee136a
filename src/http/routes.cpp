#include "http/routes.hpp"

#include <array>
#include <charconv>
#include <optional>
#include <string>

#include "config/limits.hpp"
#include "http/json.hpp"
#include "http/metrics.hpp"
#include "http/request_target.hpp"
#include "service/ascii.hpp"

namespace katsubushi::http {

namespace {

constexpr std::string_view kGetOnly = "GET";
constexpr std::string_view kGetOrHead = "GET, HEAD";

Response text(unsigned status, std::string body) {
  return Response(status, kTextPlain, std::move(body));
}

Response unavailable(std::error_code ec) { return text(503, ec.message() + "\n"); }

// No answer yet: the generator's millisecond is used up until `unix_ms`.
Response later(std::int64_t unix_ms) {
  Response r;
  r.not_before_unix_ms = unix_ms;
  return r;
}

// The `n` of /ids: absent or empty means 1, as in go-katsubushi; otherwise
// decimal digits only, 1..kHttpMaxIdsPerRequest.
std::optional<std::uint32_t> ids_wanted(std::string_view target) {
  const auto n = query_value(target_query(target), "n");
  if (!n || n->empty()) return 1;
  std::uint32_t v = 0;
  const char* const last = n->data() + n->size();
  const auto [end, ec] = std::from_chars(n->data(), last, v);
  if (ec != std::errc() || end != last || v < 1 || v > config::kHttpMaxIdsPerRequest) {
    return std::nullopt;
  }
  return v;
}

Response get_id(const Request& request, RouteContext& context) {
  std::uint64_t id = 0;
  const auto issued = context.ids.issue_all(std::span<std::uint64_t>(&id, 1));
  if (issued.not_before_unix_ms != 0) return later(issued.not_before_unix_ms);
  if (issued.error) return unavailable(issued.error);
  Response r;
  if (request.wants_json) {
    r.content_type = kApplicationJson;
    append_id_json(r.body, id);
  } else {
    r.body.append(service::DecimalDigits(id).view());  // no newline: go-katsubushi's clients parse the body whole
  }
  return r;
}

Response get_ids(const Request& request, RouteContext& context) {
  const auto n = ids_wanted(request.target);
  if (!n) {
    return text(400, "n must be a number from 1 to " +
                         std::to_string(config::kHttpMaxIdsPerRequest) + "\n");
  }
  std::array<std::uint64_t, config::kHttpMaxIdsPerRequest> scratch;
  const std::span<std::uint64_t> ids(scratch.data(), *n);
  const auto issued = context.ids.issue_all(ids);
  if (issued.not_before_unix_ms != 0) return later(issued.not_before_unix_ms);
  if (issued.error) return unavailable(issued.error);
  Response r;
  if (request.wants_json) {
    r.content_type = kApplicationJson;
    append_ids_json(r.body, ids);
    return r;
  }
  // One per line, no newline after the last: go-katsubushi's client splits
  // on "\n" and wants exactly n parts.
  r.body.reserve(ids.size() * 20);
  service::DecimalRun digits;
  for (std::size_t i = 0; i < ids.size(); ++i) {
    if (i > 0) r.body += '\n';
    r.body.append(digits.next(ids[i]));
  }
  return r;
}

Response get_stats(RouteContext& context) {
  Response r(200, kApplicationJson, {});
  append_stats_json(r.body, context.stats ? context.stats->general_stats() : service::StatList{});
  return r;
}

Response get_metrics(RouteContext& context) {
  Response r(200, kMetricsContentType, {});
  if (context.stats) append_metrics(r.body, context.stats->general_stats());
  return r;
}

Response get_healthz(RouteContext& context) {
  if (const std::error_code ec = context.generator.check_available()) return unavailable(ec);
  return text(200, "ok\n");
}

// `target` for a Location field: the bytes the request line may carry and a
// URI may not (above 0x7e) %-escaped; the rest are visible ASCII already.
std::string location_of(std::string_view target) {
  constexpr std::string_view kHex = "0123456789ABCDEF";
  std::string out;
  out.reserve(target.size());
  for (const char c : target) {
    const auto b = static_cast<unsigned char>(c);
    if (b > 0x7e) {
      out += '%';
      out += kHex[b >> 4];
      out += kHex[b & 0xf];
    } else {
      out += c;
    }
  }
  return out;
}

}  // namespace

Response route(const Request& request, RouteContext& context) {
  if (!escapes_well_formed(request.target)) {
    return text(400, "bad request: a '%' in the target is not followed by two hex digits\n");
  }
  // The asterisk form names the server as a whole, and only OPTIONS may use
  // it (RFC 9112 §3.2.4, RFC 9110 §9.3.7): this server has nothing to add.
  if (request.target == "*") {
    return request.method == Method::options ? text(200, {})
                                             : text(400, "bad request: '*' is only for OPTIONS\n");
  }
  const std::string_view path = target_path(request.target);
  if (std::string clean = clean_path(path); clean != path) {
    Response r = text(301, "moved permanently to " + clean + "\n");
    const std::string_view query = target_query(request.target);
    if (!query.empty()) {
      clean += '?';
      clean += query;
    }
    r.location = location_of(clean);
    return r;
  }
  // /id and /ids issue ids: HEAD would spend them on a reply nobody reads.
  const bool issues_ids = path == "/id" || path == "/ids";
  const bool read_only = path == "/stats" || path == "/metrics" || path == "/healthz";
  if (!issues_ids && !read_only) return text(404, "not found\n");
  const bool allowed = request.method == Method::get ||
                       (request.method == Method::head && read_only);
  if (!allowed) {
    Response r = text(405, "method not allowed\n");
    r.allow = issues_ids ? kGetOnly : kGetOrHead;
    return r;
  }
  if (path == "/id") return get_id(request, context);
  if (path == "/ids") return get_ids(request, context);
  if (path == "/stats") return get_stats(context);
  if (path == "/metrics") return get_metrics(context);
  return get_healthz(context);
}

}  // namespace katsubushi::http
