// A stand-in memcached text server on a loopback port whose answers a test
// writes: for each "get k1 k2 ..." line it sends what `answer(keys)` returns.
// For the client's tests of servers that misbehave (ids that fail the
// check, the same ids twice). One connection at a time, on a thread of its
// own, stopped and joined by the destructor.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace katsubushi::testing {

class ScriptedMemcached {
 public:
  using Answer = std::function<std::string(const std::vector<std::string>& keys)>;

  explicit ScriptedMemcached(Answer answer) : answer_(std::move(answer)) {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (listen_fd_ < 0 || ::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), len) != 0 ||
        ::listen(listen_fd_, 16) != 0 ||
        ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
      return;
    }
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { serve(); });
  }
  ~ScriptedMemcached() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    if (listen_fd_ >= 0) ::close(listen_fd_);
  }
  ScriptedMemcached(const ScriptedMemcached&) = delete;
  ScriptedMemcached& operator=(const ScriptedMemcached&) = delete;

  std::uint16_t port() const { return port_; }
  int requests() const { return requests_; }

 private:
  static bool wait_readable(int fd) {
    pollfd p{fd, POLLIN, 0};
    return ::poll(&p, 1, 50) > 0;
  }
  void serve() {
    while (!stop_) {
      if (!wait_readable(listen_fd_)) continue;
      const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) continue;
      serve_connection(fd);
      ::close(fd);
    }
  }
  void serve_connection(int fd) {
    std::string in;
    char buf[4096];
    while (!stop_) {
      if (!wait_readable(fd)) continue;
      const auto n = ::recv(fd, buf, sizeof buf, 0);
      if (n <= 0) return;
      in.append(buf, static_cast<std::size_t>(n));
      for (auto nl = in.find('\n'); nl != std::string::npos; nl = in.find('\n')) {
        std::istringstream line(in.substr(0, nl));
        in.erase(0, nl + 1);
        std::string word;
        std::vector<std::string> keys;
        line >> word;
        while (line >> word) keys.push_back(word);
        ++requests_;
        const std::string reply = answer_(keys);
        if (::send(fd, reply.data(), reply.size(), MSG_NOSIGNAL) < 0) return;
      }
    }
  }

  Answer answer_;
  int listen_fd_ = -1;
  std::uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> requests_{0};
  std::thread thread_;
};

// A memcached text reply giving `ids[i]` to `keys[i]`.
inline std::string get_reply(const std::vector<std::string>& keys,
                             const std::vector<std::uint64_t>& ids) {
  std::string out;
  for (std::size_t i = 0; i < keys.size() && i < ids.size(); ++i) {
    const auto v = std::to_string(ids[i]);
    out += "VALUE " + keys[i] + " 0 " + std::to_string(v.size()) + "\r\n" + v + "\r\n";
  }
  return out + "END\r\n";
}

}  // namespace katsubushi::testing
