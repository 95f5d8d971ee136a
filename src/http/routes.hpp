// What each HTTP path answers, as plain functions of a parsed request: no
// parsing, no I/O, so they are tested without either.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "id/generator.hpp"
#include "service/id_service.hpp"
#include "service/stats.hpp"

namespace katsubushi::http {

// Methods are case-sensitive (RFC 9110 §9.1): "get" is `other`.
enum class Method { get, head, options, other };

struct Request {
  Method method = Method::get;
  std::string_view target;   // as sent: "/ids?n=5"
  bool wants_json = false;   // Accept names application/json
};

inline constexpr std::string_view kTextPlain = "text/plain";
inline constexpr std::string_view kApplicationJson = "application/json";

struct Response {
  Response() = default;
  Response(unsigned code, std::string_view type, std::string text)
      : status(code), content_type(type), body(std::move(text)) {}

  unsigned status = 200;
  std::string_view content_type = kTextPlain;
  std::string body;          // a HEAD reply sends its length, not the body
  std::string_view allow;    // with 405: the methods the path takes
  std::string location;      // with 301: where the path is
  // Non-zero: no answer yet; the ids are to be asked for again at this time
  // (unix ms on the generator's clock).
  std::int64_t not_before_unix_ms = 0;
};

// What the routes use: ids through service::IdService (so cmd_get/get_hits/get_misses
// count them), the generator only to ask whether it can issue.
struct RouteContext {
  service::IdService& ids;
  const id::IdGenerator& generator;
  service::StatsSource* stats = nullptr;  // null: /stats is {} and /metrics empty
};

// GET /id, GET /ids?n=N, GET|HEAD /stats, /metrics, /healthz; 404 for any
// other path, 405 (with Allow) for another method on a known path; 400 for a
// malformed %-escape; 301 to the clean path for one with dot-segments or
// empty segments (as Go's ServeMux); `OPTIONS *` is 200, `*` otherwise 400.
Response route(const Request& request, RouteContext& context);

}  // namespace katsubushi::http
