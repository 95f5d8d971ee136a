#include "bench/load_connection.hpp"

#include <poll.h>
#include <sys/socket.h>

#include <cerrno>
#include <chrono>
#include <vector>

#include "bench/binary_reply.hpp"
#include "bench/http_reply.hpp"
#include "bench/reply_parser.hpp"

namespace katsubushi::bench {

std::uint64_t now_ns() noexcept {
  return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                        std::chrono::steady_clock::now().time_since_epoch())
                                        .count());
}

unsigned claim(LoadControl& control, unsigned wanted) noexcept {
  if (!control.budgeted) return wanted;
  const std::int64_t before = control.budget.fetch_sub(wanted, std::memory_order_relaxed);
  if (before <= 0) return 0;
  return before >= wanted ? wanted : static_cast<unsigned>(before);
}

namespace {

// Send times of the requests in flight, oldest first: replies come back in
// the order the requests went out.
class InFlight {
 public:
  explicit InFlight(unsigned depth) : sent_(depth) {}
  std::size_t size() const noexcept { return size_; }
  std::size_t room() const noexcept { return sent_.size() - size_; }
  void push(std::uint64_t at, std::size_t n) noexcept {
    for (std::size_t i = 0; i < n; ++i) sent_[(oldest_ + size_ + i) % sent_.size()] = at;
    size_ += n;
  }
  std::uint64_t pop() noexcept {
    const std::uint64_t at = sent_[oldest_];
    oldest_ = (oldest_ + 1) % sent_.size();
    --size_;
    return at;
  }

 private:
  std::vector<std::uint64_t> sent_;
  std::size_t oldest_ = 0;
  std::size_t size_ = 0;
};

// Receives the parser's events for one read's worth of replies.
struct ReplySink {
  const LoadPlan& plan;
  ConnectionResult& result;
  InFlight& in_flight;
  std::uint64_t received_at = 0;
  bool measuring = false;
  std::uint64_t values_in_reply = 0;
  bool unexpected = false;  // a reply with no request in flight
  bool closed = false;      // the last reply said Connection: close

  void on_value(std::string_view data) {
    ++values_in_reply;
    if (plan.check) result.check.add(data);
  }
  void on_reply(ReplyEnd end) {
    if (in_flight.size() == 0) {
      unexpected = true;
      return;
    }
    const std::uint64_t sent_at = in_flight.pop();
    if (is_error(end)) ++result.errors;
    if (measuring) {
      ++result.requests;
      result.ids += values_in_reply;
      if (end == ReplyEnd::end && values_in_reply < plan.keys) {
        result.misses += plan.keys - values_in_reply;
      }
      result.latency.record(received_at - sent_at);
    }
    values_in_reply = 0;
  }
  void on_error(ReplyEnd /*end*/) { ++result.errors; }  // a quiet get's (binary)
  void on_close() { closed = true; }
};

// Whether a failed send means the server is closing the connection after
// its last reply (HTTP): its replies are still to be read.
bool closing_by_server(Proto proto, int err) noexcept {
  return proto == Proto::http && (err == EPIPE || err == ECONNRESET);
}

template <class Parse>
void run_with(Socket& socket, const LoadPlan& plan, LoadControl& control, ConnectionResult& result,
              Parse parse) {
  std::string batch;  // -depth requests back to back: any number of them is a prefix
  batch.reserve(plan.request.size() * plan.depth);
  for (unsigned i = 0; i < plan.depth; ++i) batch += plan.request;
  InFlight in_flight(plan.depth);
  ReceiveBuffer in;
  ReplySink sink{plan, result, in_flight};
  std::string_view unsent;  // the part of `batch` being written
  bool stopping = false;
  bool send_refused = false;  // until the server's last reply is read (HTTP)

  const auto fail = [&](std::string why) { result.failure = std::move(why); };
  for (;;) {
    const Phase phase = control.phase.load(std::memory_order_relaxed);
    stopping = stopping || phase == Phase::stop;
    if (unsent.empty() && !stopping && !send_refused && in_flight.room() > 0) {
      const unsigned n = claim(control, static_cast<unsigned>(in_flight.room()));
      if (n == 0) {
        stopping = true;
      } else {
        in_flight.push(now_ns(), n);
        unsent = std::string_view(batch).substr(0, plan.request.size() * n);
      }
    }
    if (!unsent.empty()) {
      // Without waiting: while the server cannot take our requests we read
      // its replies, so neither side waits for the other forever.
      const ssize_t n =
          send(socket.fd(), unsent.data(), unsent.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
      if (n > 0) {
        unsent.remove_prefix(static_cast<std::size_t>(n));
      } else if (closing_by_server(plan.proto, errno)) {
        send_refused = true;
        unsent = {};
      } else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
        return fail(system_error("send", errno));
      }
    }
    if (in_flight.size() == 0) {
      if (stopping) return;
      continue;
    }
    if (!unsent.empty()) {
      pollfd p{socket.fd(), POLLIN | POLLOUT, 0};
      const int timeout_ms = static_cast<int>(kReplyTimeout.count() * 1000);
      const int ready = poll(&p, 1, timeout_ms);
      if (ready == 0) {
        return fail("the server took no request and sent no reply for " +
                    std::to_string(kReplyTimeout.count()) + " s");
      }
      if (ready < 0 || (p.revents & POLLIN) == 0) continue;
    }
    if (std::string error = receive(socket.fd(), in); !error.empty()) {
      return fail(std::move(error));
    }
    sink.received_at = now_ns();
    sink.measuring = control.phase.load(std::memory_order_relaxed) == Phase::measure;
    const ParseResult r = parse(in.pending(), sink);
    in.consumed(r.consumed);
    if (r.status != ParseStatus::ok) return fail(malformed_reply(r.bad_line));
    if (sink.unexpected) return fail("a reply to no request");
    if (sink.closed) {
      // Nothing more comes on this connection: the requests still in flight
      // go again on a new one, keeping their send times (a client waits
      // that long too).
      std::string error;
      Socket fresh = connect_tcp(plan.host, plan.port, error);
      if (!error.empty()) return fail("connecting again after Connection: close: " + error);
      socket = std::move(fresh);
      ++result.reconnects;
      in.consumed(in.pending().size());
      unsent = std::string_view(batch).substr(0, plan.request.size() * in_flight.size());
      sink.closed = false;
      send_refused = false;
    }
  }
}

}  // namespace

void run_connection(Socket& socket, const LoadPlan& plan, LoadControl& control,
                    ConnectionResult& result) {
  switch (plan.proto) {
    case Proto::text:
      return run_with(socket, plan, control, result,
                      [](std::string_view in, ReplySink& s) { return parse_replies(in, s); });
    case Proto::binary:
      return run_with(socket, plan, control, result, [](std::string_view in, ReplySink& s) {
        return parse_binary_replies(in, s);
      });
    case Proto::http:
      return run_with(socket, plan, control, result,
                      [](std::string_view in, ReplySink& s) { return parse_http_replies(in, s); });
    case Proto::grpc:
      result.failure = "gRPC runs on a GrpcLoadConnection, not a socket";
      return;
  }
}

}  // namespace katsubushi::bench
