#include "http/http_session.hpp"

#include <algorithm>
#include <boost/beast/core/error.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/status.hpp>
#include <optional>
#include <string>

#include "config/limits.hpp"
#include "http/header_gate.hpp"
#include "http/header_rules.hpp"
#include "http/routes.hpp"
#include "service/ascii.hpp"

namespace katsubushi::http {

namespace {

namespace beast = boost::beast;
namespace bhttp = boost::beast::http;

// A request body, read and thrown away: no route takes one, and keeping it
// would only cost memory. The parser's body_limit still bounds its length.
struct DiscardedBody {
  struct value_type {};

  class reader {
   public:
    template <bool isRequest, class Fields>
    reader(bhttp::header<isRequest, Fields>& /*header*/, value_type& /*body*/) {}

    void init(const boost::optional<std::uint64_t>& /*length*/, beast::error_code& ec) {
      ec = {};
    }
    template <class ConstBufferSequence>
    std::size_t put(const ConstBufferSequence& buffers, beast::error_code& ec) {
      ec = {};
      return boost::asio::buffer_size(buffers);
    }
    void finish(beast::error_code& ec) { ec = {}; }
  };
};

using RequestParser = bhttp::request_parser<DiscardedBody>;

// Accept names application/json (media types are case-insensitive;
// go-katsubushi looks for the same words).
bool wants_json(std::string_view accept) {
  constexpr std::string_view kJson = "application/json";
  const auto it = std::search(accept.begin(), accept.end(), kJson.begin(), kJson.end(),
                              [](char a, char b) { return service::to_lower_ascii(a) == b; });
  return it != accept.end();
}

Method method_of(bhttp::verb v) {
  switch (v) {
    case bhttp::verb::get:
      return Method::get;
    case bhttp::verb::head:
      return Method::head;
    case bhttp::verb::options:
      return Method::options;
    default:
      return Method::other;
  }
}

}  // namespace

struct HttpSession::Parser {
  // A parser reads one message; each request gets a fresh one.
  std::optional<RequestParser> current;
  HeaderGate gate;
  bool header_checked = false;  // header_refusal() has passed this request

  void reset() {
    current.reset();
    gate.reset();
    header_checked = false;
  }

  RequestParser& next() {
    if (!current) {
      current.emplace();
      // The header alone first: it is checked before any of the body or the
      // trailers is read, since the parser merges trailer fields into it.
      current->eager(false);
      current->header_limit(static_cast<std::uint32_t>(config::kHttpMaxHeaderBytes));
      current->body_limit(std::uint64_t{config::kHttpMaxBodyBytes});
    }
    return *current;
  }
};

HttpSession::HttpSession(const service::SessionServices& services,
                         const service::SessionLimits& limits)
    : services_(services),
      limits_(limits),
      ids_(services.generator, services.counters),
      parser_(std::make_unique<Parser>()) {}

HttpSession::~HttpSession() = default;

void HttpSession::process(service::InputBuffer& in, service::OutputBuffer& out) {
  not_before_ = 0;
  while (!closing_ && out.unsent_size() < limits_.max_output_bytes) {
    RequestParser& parser = parser_->next();
    // A request that waited for ids is parsed already: answer it again.
    if (!parser.is_done() && !parse(in, out)) return;
    const auto& message = parser.get();
    const Request request{.method = method_of(message.method()),
                          .target = message.target(),
                          .wants_json = wants_json(message[bhttp::field::accept])};
    RouteContext context{.ids = ids_, .generator = services_.generator, .stats = services_.stats};
    const Response response = route(request, context);
    if (response.not_before_unix_ms != 0) {
      not_before_ = response.not_before_unix_ms;
      return;
    }
    ++completed_;
    const bool last = !message.keep_alive() || completed_ >= config::kHttpMaxRequestsPerConnection;
    // An HTTP/1.0 client keeps the connection only when told so.
    const bool keep_alive_header = !last && message.version() < 11;
    write(response, request.method == Method::head, last, keep_alive_header, out);
    parser_->reset();
    if (last) {
      closing_ = true;
      in.clear();
    }
  }
}

// Offers `in` to the parser until a whole request is parsed (true), or more
// bytes are needed or the request was refused (false; fail() has answered).
bool HttpSession::parse(service::InputBuffer& in, service::OutputBuffer& out) {
  RequestParser& parser = parser_->next();
  // Beast is offered at most this much at a time, so what it answers never
  // depends on how much has arrived: a chunk line or trailer it cannot
  // finish in one window is refused the same way whether it came whole or in
  // pieces. A header is offered only once whole (HeaderGate).
  constexpr std::size_t kWindow = config::kHttpMaxHeaderBytes;
  for (;;) {
    const std::string_view pending = in.pending().substr(0, kWindow);
    if (pending.empty()) return false;
    if (!parser.is_header_done()) {
      switch (parser_->gate.scan(pending, config::kHttpMaxHeaderBytes)) {
        case HeaderGate::Verdict::need_more:
          return false;
        case HeaderGate::Verdict::complete:
          break;
        case HeaderGate::Verdict::bare_lf:
          fail(400, "bad request: a line ends in a bare LF, not CRLF\n", in, out);
          return false;
        case HeaderGate::Verdict::bad_request_line:
          fail(400, "bad request: the request line is not METHOD target HTTP/1.x\n", in, out);
          return false;
        case HeaderGate::Verdict::too_large:
          fail(431, "request header too large\n", in, out);
          return false;
      }
    }
    beast::error_code ec;
    const std::size_t used =
        parser.put(boost::asio::const_buffer(pending.data(), pending.size()), ec);
    // The parser has copied what it keeps (method, target, fields) and
    // expects the bytes it did not use to be offered again, first.
    in.consume(used);
    // Before the request is answered or its body read on: the header may
    // make the framing ambiguous, which no later request can be trusted after.
    if ((!ec || ec == bhttp::error::need_more) && parser.is_header_done() &&
        !parser_->header_checked) {
      parser_->header_checked = true;
      const std::string_view why = header_refusal(parser.get(), parser.get().version());
      if (!why.empty()) {
        fail(400, "bad request: " + std::string(why) + "\n", in, out);
        return false;
      }
      parser.eager(true);
      if (!ec && !parser.is_done()) continue;  // on to the body
    }
    if (ec == bhttp::error::need_more) {
      if (used > 0) continue;
      if (pending.size() < kWindow) return false;
      // A full window and no progress: a chunk's size line or the trailers
      // are longer than any header may be.
      fail(400, "bad request: chunk line or trailer too long\n", in, out);
      return false;
    }
    if (ec == bhttp::error::header_limit) {
      fail(431, "request header too large\n", in, out);
      return false;
    }
    if (ec == bhttp::error::body_limit) {
      fail(413, "request body too large\n", in, out);
      return false;
    }
    if (ec) {
      fail(400, "bad request: " + ec.message() + "\n", in, out);
      return false;
    }
    if (parser.is_done()) return true;
    // The window went into a body that is not complete yet.
    if (used == 0) return false;  // cannot happen; never spin on it
  }
}

void HttpSession::fail(unsigned status, std::string body, service::InputBuffer& in,
                       service::OutputBuffer& out) {
  const Response r(status, kTextPlain, std::move(body));
  ++completed_;
  write(r, false, true, false, out);
  parser_->reset();
  closing_ = true;
  in.clear();
}

void HttpSession::write(const Response& response, bool head, bool close, bool keep_alive_header,
                        service::OutputBuffer& out) {
  const std::string_view reason = bhttp::obsolete_reason(bhttp::int_to_status(response.status));
  out.reserve_more(160 + response.location.size() + (head ? 0 : response.body.size()));
  out.append("HTTP/1.1 ");
  out.append_uint(response.status);
  out.append(" ");
  out.append(reason.data(), reason.size());
  out.append("\r\nContent-Type: ");
  out.append(response.content_type);
  out.append("\r\nContent-Length: ");
  out.append_uint(response.body.size());
  // Every answer is fresh: an id served from a cache would be a duplicate.
  out.append("\r\nCache-Control: no-store\r\n");
  if (!response.allow.empty()) {
    out.append("Allow: ");
    out.append(response.allow);
    out.append("\r\n");
  }
  if (!response.location.empty()) {
    out.append("Location: ");
    out.append(response.location);
    out.append("\r\n");
  }
  if (close) {
    out.append("Connection: close\r\n");
  } else if (keep_alive_header) {
    out.append("Connection: keep-alive\r\n");
  }
  out.append("\r\n");
  if (!head) out.append(response.body);
}

}  // namespace katsubushi::http
