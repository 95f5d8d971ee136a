#include "testing/loopback_client.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <thread>
#include <utility>

namespace katsubushi::testing {

using SteadyClock = std::chrono::steady_clock;

namespace {

int remaining_ms(SteadyClock::time_point deadline) {
  const auto left = std::chrono::duration_cast<Millis>(deadline - SteadyClock::now()).count();
  return left > 0 ? static_cast<int>(left) : 0;
}

}  // namespace

LoopbackClient::~LoopbackClient() { close(); }

LoopbackClient::LoopbackClient(LoopbackClient&& o) noexcept
    : fd_(std::exchange(o.fd_, -1)), pending_(std::move(o.pending_)) {}

LoopbackClient& LoopbackClient::operator=(LoopbackClient&& o) noexcept {
  if (this != &o) {
    close();
    fd_ = std::exchange(o.fd_, -1);
    pending_ = std::move(o.pending_);
  }
  return *this;
}

namespace {

// Non-blocking connect bounded by `timeout`: a full accept queue must not
// hang the test. The socket is left blocking.
int connect_bounded(int family, const sockaddr* addr, socklen_t len, Millis timeout) {
  const int fd = ::socket(family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return -1;
  int rc = ::connect(fd, addr, len);
  if (rc != 0 && errno == EINPROGRESS) {
    pollfd p{fd, POLLOUT, 0};
    if (::poll(&p, 1, static_cast<int>(timeout.count())) == 1) {
      int err = 0;
      socklen_t err_len = sizeof err;
      ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &err_len);
      rc = err == 0 ? 0 : -1;
    }
  }
  if (rc != 0) {
    ::close(fd);
    return -1;
  }
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) & ~O_NONBLOCK);
  return fd;
}

}  // namespace

bool LoopbackClient::connect_tcp(const std::string& host, std::uint16_t port) {
  close();
  sockaddr_storage ss{};
  socklen_t len = 0;
  auto* v4 = reinterpret_cast<sockaddr_in*>(&ss);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&ss);
  if (::inet_pton(AF_INET, host.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(port);
    len = sizeof *v4;
  } else if (::inet_pton(AF_INET6, host.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(port);
    len = sizeof *v6;
  } else {
    return false;
  }
  fd_ = connect_bounded(ss.ss_family, reinterpret_cast<sockaddr*>(&ss), len, kReplyTimeout);
  if (fd_ < 0) return false;
  int one = 1;
  ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return true;
}

bool LoopbackClient::connect_unix(const std::string& path) {
  close();
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof addr.sun_path) return false;
  std::memcpy(addr.sun_path, path.data(), path.size());
  fd_ = connect_bounded(AF_UNIX, reinterpret_cast<sockaddr*>(&addr), sizeof addr, kReplyTimeout);
  return fd_ >= 0;
}

bool LoopbackClient::send_all(std::string_view bytes) {
  const auto deadline = SteadyClock::now() + kReplyTimeout;
  while (!bytes.empty()) {
    if (fd_ < 0) return false;
    pollfd p{fd_, POLLOUT, 0};
    if (::poll(&p, 1, remaining_ms(deadline)) != 1) return false;
    const ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      return false;
    }
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

RecvStatus LoopbackClient::recv_some(std::string& out, Millis timeout) {
  if (!pending_.empty()) {
    out += pending_;
    pending_.clear();
    return RecvStatus::data;
  }
  if (fd_ < 0) return RecvStatus::error;
  pollfd p{fd_, POLLIN, 0};
  const int ready = ::poll(&p, 1, static_cast<int>(timeout.count()));
  if (ready == 0) return RecvStatus::timeout;
  if (ready < 0) return errno == EINTR ? RecvStatus::timeout : RecvStatus::error;
  char buf[64 * 1024];
  const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
  if (n > 0) {
    out.append(buf, static_cast<std::size_t>(n));
    return RecvStatus::data;
  }
  if (n == 0) return RecvStatus::closed;
  return errno == EINTR ? RecvStatus::timeout : RecvStatus::error;
}

std::optional<std::string> LoopbackClient::recv_until(std::string_view terminator, Millis timeout) {
  const auto deadline = SteadyClock::now() + timeout;
  std::string buf = std::move(pending_);
  pending_.clear();
  std::size_t searched = 0;
  for (;;) {
    const std::size_t at = buf.find(terminator, searched);
    if (at != std::string::npos) {
      pending_ = buf.substr(at + terminator.size());
      buf.resize(at + terminator.size());
      return buf;
    }
    searched = buf.size() >= terminator.size() ? buf.size() - terminator.size() + 1 : 0;
    const int left = remaining_ms(deadline);
    const RecvStatus s = recv_some(buf, Millis(left));
    if (s != RecvStatus::data && (s != RecvStatus::timeout || left == 0)) {
      pending_ = std::move(buf);
      return std::nullopt;
    }
  }
}

std::optional<std::string> LoopbackClient::read_until_closed(Millis timeout) {
  const auto deadline = SteadyClock::now() + timeout;
  std::string buf;
  for (;;) {
    const int left = remaining_ms(deadline);
    const RecvStatus s = recv_some(buf, Millis(left));
    if (s == RecvStatus::closed) return buf;
    if (s == RecvStatus::error) return errno == ECONNRESET ? std::optional(buf) : std::nullopt;
    if (s == RecvStatus::timeout && left == 0) return std::nullopt;
  }
}

std::optional<std::string> LoopbackClient::request(std::string_view bytes,
                                                   std::string_view terminator, Millis timeout) {
  if (!send_all(bytes)) return std::nullopt;
  return recv_until(terminator, timeout);
}

void LoopbackClient::shutdown_write() const {
  if (fd_ >= 0) ::shutdown(fd_, SHUT_WR);
}

void LoopbackClient::close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  pending_.clear();
}

void LoopbackClient::close_with_reset() {
  if (fd_ >= 0) {
    linger l{1, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_LINGER, &l, sizeof l);
  }
  close();
}

// Reply parsing.

std::map<std::string, std::string> parse_stats(std::string_view reply) {
  std::map<std::string, std::string> stats;
  while (!reply.empty()) {
    const std::size_t eol = reply.find("\r\n");
    const std::string_view line = reply.substr(0, eol);
    reply.remove_prefix(eol == std::string_view::npos ? reply.size() : eol + 2);
    if (line == "END") continue;
    const std::size_t sp = line.find(' ', 5);
    if (line.starts_with("STAT ") && sp != std::string_view::npos && sp > 5) {
      stats[std::string(line.substr(5, sp - 5))] = std::string(line.substr(sp + 1));
    } else {
      stats[""] += std::string(line) + "\n";
    }
  }
  return stats;
}

std::map<std::string, std::string> query_stats(LoopbackClient& client) {
  auto reply = client.request("stats\r\n", "END\r\n");
  if (!reply) return {};
  return parse_stats(*reply);
}

std::int64_t stat_value(const std::map<std::string, std::string>& stats, const std::string& name) {
  auto it = stats.find(name);
  if (it == stats.end()) return -1;
  std::int64_t v = 0;
  const std::string& s = it->second;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc() || p != s.data() + s.size()) return -1;
  return v;
}

namespace {

bool parse_decimal(std::string_view s, std::uint64_t& out) {
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return !s.empty() && ec == std::errc() && p == s.data() + s.size();
}

std::vector<std::string_view> split_spaces(std::string_view line) {
  std::vector<std::string_view> words;
  std::size_t i = 0;
  while (i <= line.size()) {
    const std::size_t sp = std::min(line.find(' ', i), line.size());
    words.push_back(line.substr(i, sp - i));
    i = sp + 1;
  }
  return words;
}

}  // namespace

ParseStatus parse_get_reply(std::string_view in, std::vector<IdValue>& values, std::size_t& used) {
  values.clear();
  std::size_t pos = 0;
  for (;;) {
    const std::size_t eol = in.find("\r\n", pos);
    if (eol == std::string_view::npos) return ParseStatus::partial;
    const std::string_view line = in.substr(pos, eol - pos);
    if (line == "END") {
      used = eol + 2;
      return ParseStatus::complete;
    }
    const auto words = split_spaces(line);
    std::uint64_t len = 0;
    std::uint64_t cas = 0;
    // VALUE <key> <flags> <bytes> [<cas>]
    if ((words.size() != 4 && words.size() != 5) || words[0] != "VALUE" || words[1].empty() ||
        words[2] != "0" || !parse_decimal(words[3], len) ||
        (words.size() == 5 && !parse_decimal(words[4], cas))) {
      return ParseStatus::malformed;
    }
    const std::size_t data_at = eol + 2;
    if (in.size() < data_at + len + 2) return ParseStatus::partial;
    IdValue v;
    v.key = std::string(words[1]);
    if (!parse_decimal(in.substr(data_at, len), v.id) || in.substr(data_at + len, 2) != "\r\n") {
      return ParseStatus::malformed;
    }
    if (words.size() == 5) v.cas = cas;
    values.push_back(std::move(v));
    pos = data_at + len + 2;
  }
}

std::optional<std::vector<IdValue>> request_ids(LoopbackClient& client, std::string_view command) {
  auto reply = client.request(std::string(command) + "\r\n", "END\r\n");
  if (!reply) return std::nullopt;
  std::vector<IdValue> values;
  std::size_t used = 0;
  if (parse_get_reply(*reply, values, used) != ParseStatus::complete || used != reply->size()) {
    return std::nullopt;
  }
  return values;
}

std::variant<std::uint64_t, std::string> get_one_id(LoopbackClient& client) {
  const auto reply = client.request("get a\r\nmn\r\n", "MN\r\n");
  if (!reply) return std::string("no reply");
  if (reply->rfind("VALUE a 0 ", 0) == 0) {
    const auto start = reply->find("\r\n") + 2;
    return std::stoull(reply->substr(start, reply->find("\r\n", start) - start));
  }
  return reply->substr(0, reply->find("\r\n"));
}

std::variant<std::uint64_t, std::string> first_id(LoopbackClient& client,
                                                  std::chrono::milliseconds limit) {
  const auto end = std::chrono::steady_clock::now() + limit;
  auto r = get_one_id(client);
  while (!std::holds_alternative<std::uint64_t>(r) && std::chrono::steady_clock::now() < end) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    r = get_one_id(client);
  }
  return r;
}

std::int64_t now_unix_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace katsubushi::testing
