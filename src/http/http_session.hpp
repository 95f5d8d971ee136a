// HTTP/1.1 on one connection: sniffed on the main port, or the protocol of
// every connection on -http-port. Beast's parser takes the bytes; the routes
// (routes.hpp) answer; keep-alive, pipelining and every limit live here.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "service/buffers.hpp"
#include "service/id_service.hpp"
#include "service/session_services.hpp"

namespace katsubushi::http {

struct Response;

class HttpSession {
 public:
  HttpSession(const service::SessionServices& services, const service::SessionLimits& limits);
  ~HttpSession();
  HttpSession(const HttpSession&) = delete;
  HttpSession& operator=(const HttpSession&) = delete;

  // Answers every complete request in `in`, in order, stopping early when
  // `out` is over its limit or the session is closing.
  void process(service::InputBuffer& in, service::OutputBuffer& out);

  bool closing() const noexcept { return closing_; }
  // Requests answered, malformed ones included.
  std::uint64_t completed_requests() const noexcept { return completed_; }
  // Non-zero: the parsed request waits for the generator until this time
  // (unix ms on its clock); a later process() answers it.
  std::int64_t not_before_unix_ms() const noexcept { return not_before_; }

 private:
  // Beast's request parser, kept out of this header: SessionCore and with it
  // most of the code base include it.
  struct Parser;

  // Answers `status` with `body`, then closes: the stream cannot be trusted.
  // Offers `in` to the parser until a whole request is parsed (true), or
  // more bytes are needed or the request was refused (false).
  bool parse(service::InputBuffer& in, service::OutputBuffer& out);
  void fail(unsigned status, std::string body, service::InputBuffer& in, service::OutputBuffer& out);
  void write(const Response& response, bool head, bool close, bool keep_alive_header,
             service::OutputBuffer& out);

  const service::SessionServices& services_;
  const service::SessionLimits& limits_;
  service::IdService ids_;
  std::unique_ptr<Parser> parser_;
  bool closing_ = false;
  std::uint64_t completed_ = 0;
  std::int64_t not_before_ = 0;
};

}  // namespace katsubushi::http
