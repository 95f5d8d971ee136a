#include "bench/preload.hpp"

#include <algorithm>
#include <thread>
#include <vector>

#include "bench/proc_stats.hpp"
#include "bench/tcp_client.hpp"

namespace katsubushi::bench {

namespace {

// Sets per write: a batch and its replies fit the sockets' buffers.
constexpr std::uint64_t kPreloadBatch = 100;

struct StoredCounter {
  std::uint64_t stored = 0;
  std::uint64_t other = 0;
  void on_value(std::string_view /*data*/) {}
  void on_reply(ReplyEnd end) { ++(end == ReplyEnd::stored ? stored : other); }
};

struct ErrorCounter {
  std::uint64_t errors = 0;
  void on_value(std::string_view /*data*/) {}
  void on_reply(ReplyEnd end) { errors += is_error(end) ? 1U : 0U; }
};

}  // namespace

std::string preload_value(std::uint64_t index) {
  constexpr std::uint64_t kFirst = 1'000'000'000'000'000'000;  // the smallest 19-digit number
  return std::to_string(kFirst + index);
}

std::string preload_keys(const std::string& host, std::uint16_t port, const std::string& prefix,
                         std::uint64_t count) {
  std::string error;
  const Socket s = connect_tcp(host, port, error);
  if (s.fd() < 0) return error;
  ReceiveBuffer in;
  StoredCounter counter;
  std::string batch;
  for (std::uint64_t first = 0; first < count; first += kPreloadBatch) {
    const std::uint64_t n = std::min(kPreloadBatch, count - first);
    batch.clear();
    for (std::uint64_t i = first; i < first + n; ++i) {
      const std::string value = preload_value(i);
      batch += "set ";
      batch += prefix;
      batch += std::to_string(i);
      batch += " 0 0 ";
      batch += std::to_string(value.size());
      batch += "\r\n";
      batch += value;
      batch += "\r\n";
    }
    if (error = send_all(s.fd(), batch); !error.empty()) return error;
    if (error = await_replies(s.fd(), in, static_cast<std::size_t>(n), counter); !error.empty()) {
      return error;
    }
    if (counter.other > 0) {
      return "the server did not answer STORED to a set (is it a memcached?)";
    }
  }
  return {};
}

IdleResult hold_idle_connections(const std::string& host, std::uint16_t port,
                                 const std::string& prefix, unsigned count, int pid,
                                 std::chrono::nanoseconds settle) {
  IdleResult result;
  if (pid > 0) {
    result.rss_before_kb = process_rss_kb(pid);
    if (!result.rss_before_kb) {
      result.failure = "cannot read VmRSS of pid " + std::to_string(pid);
      return result;
    }
  }
  const std::string request = "get " + prefix + "0\r\n";
  std::vector<Socket> sockets;
  sockets.reserve(count);
  ReceiveBuffer in;  // one at a time: every reply is read whole before the next get
  ErrorCounter errors;
  for (unsigned i = 0; i < count; ++i) {
    std::string error;
    Socket s = connect_tcp(host, port, error);
    if (error.empty()) error = send_all(s.fd(), request);
    if (error.empty()) error = await_replies(s.fd(), in, 1, errors);
    if (error.empty() && !in.pending().empty()) error = "bytes after the reply to one get";
    if (!error.empty()) {
      result.failure = "idle connection " + std::to_string(i + 1) + " of " +
                       std::to_string(count) + ": " + error;
      return result;
    }
    sockets.push_back(std::move(s));
  }
  result.errors = errors.errors;
  std::this_thread::sleep_for(settle);
  if (pid > 0) {
    result.rss_after_kb = process_rss_kb(pid);
    if (!result.rss_after_kb) result.failure = "cannot read VmRSS of pid " + std::to_string(pid);
  }
  return result;
}

}  // namespace katsubushi::bench
