#include "lease/redis_client.hpp"

#include <hiredis/hiredis.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/time.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <utility>

namespace katsubushi::lease {

namespace {

using SteadyClock = std::chrono::steady_clock;
using std::chrono::milliseconds;

milliseconds time_left(SteadyClock::time_point deadline) {
  return std::chrono::duration_cast<milliseconds>(deadline - SteadyClock::now());
}

timeval to_timeval(milliseconds d) {
  d = std::max(d, milliseconds(1));
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(d.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((d.count() % 1000) * 1000);
  return tv;
}

// hiredis writes with write(2): a peer that has closed raises SIGPIPE, whose
// default action ends the process. It is blocked on this thread for the
// length of a call and one raised meanwhile is taken away, so a dropped
// connection is an EPIPE error whatever the process does with SIGPIPE.
class SigpipeBlocked {
 public:
  SigpipeBlocked() {
    sigemptyset(&pipe_);
    sigaddset(&pipe_, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_, &before_);
  }
  ~SigpipeBlocked() {
    if (sigismember(&before_, SIGPIPE) == 1) return;  // blocked before us: theirs
    sigset_t pending;
    sigemptyset(&pending);
    if (sigpending(&pending) == 0 && sigismember(&pending, SIGPIPE) == 1) {
      const timespec now{};
      while (sigtimedwait(&pipe_, nullptr, &now) == SIGPIPE) {
      }
    }
    pthread_sigmask(SIG_SETMASK, &before_, nullptr);
  }
  SigpipeBlocked(const SigpipeBlocked&) = delete;
  SigpipeBlocked& operator=(const SigpipeBlocked&) = delete;

 private:
  sigset_t pipe_{};
  sigset_t before_{};
};

// Recursive over arrays; hiredis reads replies nested 7 deep at most.
// NOLINTNEXTLINE(misc-no-recursion)
RedisReply convert(const redisReply& r) {
  RedisReply out;
  switch (r.type) {
    case REDIS_REPLY_STRING:
      out.type = RedisReply::Type::string;
      out.str.assign(r.str, r.len);
      break;
    case REDIS_REPLY_STATUS:
      out.type = RedisReply::Type::status;
      out.str.assign(r.str, r.len);
      break;
    case REDIS_REPLY_ERROR:
      out.type = RedisReply::Type::error;
      out.str.assign(r.str, r.len);
      break;
    case REDIS_REPLY_INTEGER:
      out.type = RedisReply::Type::integer;
      out.integer = r.integer;
      break;
    case REDIS_REPLY_ARRAY:
      out.type = RedisReply::Type::array;
      out.elements.reserve(r.elements);
      for (std::size_t i = 0; i < r.elements; ++i) {
        out.elements.push_back(r.element[i] != nullptr ? convert(*r.element[i]) : RedisReply{});
      }
      break;
    default:
      out.type = RedisReply::Type::nil;
  }
  return out;
}

// What went wrong on a context, in words an operator can act on.
std::string failure(const redisContext& ctx, int saved_errno, milliseconds waited) {
  if (ctx.err == REDIS_ERR_IO && (saved_errno == EAGAIN || saved_errno == EWOULDBLOCK)) {
    return "no reply within " + std::to_string(waited.count()) + " ms";
  }
  if (ctx.err == REDIS_ERR_EOF) return "the server closed the connection";
  if (ctx.err == REDIS_ERR_PROTOCOL) return std::string("not Redis protocol: ") + ctx.errstr;
  return ctx.errstr[0] != '\0' ? std::string(ctx.errstr) : std::string("no reply");
}

[[noreturn]] void fail(const RedisEndpoint& at, std::string_view what, std::string_view why) {
  throw RedisError("Redis " + at.text() + ": " + std::string(what) + ": " + std::string(why));
}

// One command on a context, its reply owned. Throws RedisError; the context
// is unusable afterwards (hiredis cannot go on after an error).
RedisReply command_on(redisContext* ctx, const RedisEndpoint& at,
                      const std::vector<std::string>& argv, SteadyClock::time_point deadline) {
  const milliseconds left = time_left(deadline);
  if (left.count() <= 0) fail(at, argv.at(0), "timed out");
  redisSetTimeout(ctx, to_timeval(left));
  std::vector<const char*> ptrs;
  std::vector<std::size_t> lens;
  ptrs.reserve(argv.size());
  lens.reserve(argv.size());
  for (const auto& a : argv) {
    ptrs.push_back(a.data());
    lens.push_back(a.size());
  }
  errno = 0;
  void* raw = redisCommandArgv(ctx, static_cast<int>(argv.size()), ptrs.data(), lens.data());
  const int saved_errno = errno;
  if (raw == nullptr) fail(at, argv.at(0), failure(*ctx, saved_errno, left));
  const std::unique_ptr<redisReply, void (*)(void*)> reply(static_cast<redisReply*>(raw),
                                                           freeReplyObject);
  return convert(*reply);
}

// "MOVED 3999 127.0.0.1:6381" / "ASK 3999 127.0.0.1:6381": the address.
bool redirect_target(const std::string& error, std::string_view kind, const RedisEndpoint& asked,
                     RedisEndpoint& target) {
  if (error.size() <= kind.size() || !error.starts_with(kind) || error[kind.size()] != ' ') {
    return false;
  }
  const auto space = error.find(' ', kind.size() + 1);
  if (space == std::string::npos) return false;
  const std::string_view addr = std::string_view(error).substr(space + 1);
  const auto colon = addr.rfind(':');
  if (colon == std::string_view::npos) return false;
  unsigned port = 0;
  const auto [end, ec] = std::from_chars(addr.data() + colon + 1, addr.data() + addr.size(), port);
  if (ec != std::errc{} || end != addr.data() + addr.size() || port == 0 || port > 65535) {
    return false;
  }
  std::string host(addr.substr(0, colon));
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  // An empty host means "the address you reached me on".
  target = {host.empty() ? asked.host : host, static_cast<std::uint16_t>(port)};
  return true;
}

std::uint16_t crc16_xmodem(std::string_view s) noexcept {
  std::uint16_t crc = 0;
  for (const char ch : s) {
    crc = static_cast<std::uint16_t>(crc ^
                                     (static_cast<unsigned>(static_cast<unsigned char>(ch)) << 8));
    for (int bit = 0; bit < 8; ++bit) {
      crc = (crc & 0x8000) != 0 ? static_cast<std::uint16_t>((crc << 1) ^ 0x1021)
                                : static_cast<std::uint16_t>(crc << 1);
    }
  }
  return crc;
}

}  // namespace

std::uint16_t key_slot(std::string_view key) noexcept {
  if (const auto open = key.find('{'); open != std::string_view::npos) {
    const auto close = key.find('}', open + 1);
    if (close != std::string_view::npos && close > open + 1) {
      key = key.substr(open + 1, close - open - 1);
    }
  }
  return static_cast<std::uint16_t>(crc16_xmodem(key) % kClusterSlots);
}

struct RedisClient::Connection {
  redisContext* ctx = nullptr;
  Connection() = default;
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;
  ~Connection() {
    if (ctx != nullptr) redisFree(ctx);
  }
};

RedisClient::RedisClient(RedisUrl url, std::chrono::milliseconds timeout)
    : url_(std::move(url)), timeout_(std::max(timeout, milliseconds(1))) {
  if (url_.endpoints.empty()) throw RedisError("Redis: no address to connect to");
}

RedisClient::~RedisClient() = default;

void RedisClient::disconnect() { connections_.clear(); }

std::size_t RedisClient::known_slots() const {
  return static_cast<std::size_t>(
      std::count_if(slot_node_.begin(), slot_node_.end(), [](std::uint16_t n) { return n != 0; }));
}

std::unique_ptr<RedisClient::Connection> RedisClient::open_connection(const RedisUrl& url,
                                                                      const RedisEndpoint& at,
                                                                      int db, Deadline deadline) {
  const milliseconds left = time_left(deadline);
  if (left.count() <= 0) fail(at, "connect", "timed out");
  auto conn = std::make_unique<RedisClient::Connection>();
  conn->ctx = redisConnectWithTimeout(at.host.c_str(), at.port, to_timeval(left));
  if (conn->ctx == nullptr) fail(at, "cannot connect", "out of memory");
  if (conn->ctx->err != 0) fail(at, "cannot connect", conn->ctx->errstr);
  const auto setup = [&](const std::vector<std::string>& argv) {
    const RedisReply r = command_on(conn->ctx, at, argv, deadline);
    // The reply, not our arguments: the password stays out of messages.
    if (r.is_error()) fail(at, argv[0] + " refused", r.str);
  };
  if (!url.password.empty()) {
    if (url.user.empty()) {
      setup({"AUTH", url.password});
    } else {
      setup({"AUTH", url.user, url.password});
    }
  }
  if (db != 0) setup({"SELECT", std::to_string(db)});
  return conn;
}

RedisClient::Connection& RedisClient::connection(const RedisEndpoint& at, Deadline deadline) {
  const std::string key = at.text();
  if (const auto it = connections_.find(key); it != connections_.end()) {
    // Between a reply and the next request nothing may arrive: anything
    // readable is the server having closed (a timeout, a restart, CLIENT
    // KILL), so connect again rather than fail this call on a dead socket.
    pollfd p{it->second->ctx->fd, POLLIN | POLLRDHUP, 0};
    if (::poll(&p, 1, 0) == 0) return *it->second;
    connections_.erase(it);
  }
  auto conn = open_connection(url_, at, url_.cluster ? 0 : url_.db, deadline);
  Connection& ref = *conn;
  connections_.emplace(key, std::move(conn));
  return ref;
}

RedisReply RedisClient::exchange(const RedisEndpoint& at, const std::vector<std::string>& argv,
                                 Deadline deadline) {
  Connection& conn = connection(at, deadline);
  try {
    return command_on(conn.ctx, at, argv, deadline);
  } catch (const RedisError&) {
    connections_.erase(at.text());
    throw;
  }
}

RedisReply RedisClient::key_command(const std::vector<std::string>& argv, std::size_t key_index) {
  const SigpipeBlocked no_sigpipe;
  const Deadline deadline = SteadyClock::now() + timeout_;
  if (!url_.cluster) return exchange(url_.endpoints.front(), argv, deadline);
  return cluster_key_command(argv, key_index, deadline);
}

std::vector<RedisEndpoint> RedisClient::known_nodes() const {
  std::vector<RedisEndpoint> out = url_.endpoints;
  for (const auto& n : nodes_) {
    if (std::find(out.begin(), out.end(), n) == out.end()) out.push_back(n);
  }
  return out;
}

void RedisClient::forget_node(const RedisEndpoint& node) {
  const auto it = std::find(nodes_.begin(), nodes_.end(), node);
  if (it != nodes_.end()) {
    const auto index = static_cast<std::uint16_t>(it - nodes_.begin() + 1);
    std::replace(slot_node_.begin(), slot_node_.end(), index, std::uint16_t{0});
  }
  slots_stale_ = true;
}

void RedisClient::load_slots(Deadline deadline) {
  const std::vector<RedisEndpoint> candidates = known_nodes();
  std::string last_error = "Redis Cluster: no node to ask for CLUSTER SLOTS";
  const std::size_t start = next_node_;
  for (std::size_t i = 0; i < candidates.size(); ++i) {
    const RedisEndpoint& at = candidates[(start + i) % candidates.size()];
    RedisReply r;
    try {
      r = exchange(at, {"CLUSTER", "SLOTS"}, deadline);
    } catch (const RedisError& e) {
      last_error = e.what();
      next_node_ = start + i + 1;  // a node that swallows calls is not asked first again
      if (time_left(deadline).count() <= 0) break;
      continue;
    }
    if (r.type != RedisReply::Type::array) {
      last_error = "Redis " + at.text() +
                   ": CLUSTER SLOTS: " + (r.is_error() ? r.str : std::string("not a slot table"));
      continue;
    }
    // [[first, last, [host, port, id...], replicas...], ...]
    std::vector<RedisEndpoint> nodes;
    std::vector<std::uint16_t> owners(kClusterSlots, 0);
    for (const RedisReply& range : r.elements) {
      if (range.type != RedisReply::Type::array || range.elements.size() < 3) continue;
      const RedisReply& first = range.elements[0];
      const RedisReply& last = range.elements[1];
      const RedisReply& primary = range.elements[2];
      if (first.type != RedisReply::Type::integer || last.type != RedisReply::Type::integer ||
          first.integer < 0 || last.integer >= kClusterSlots || first.integer > last.integer ||
          primary.type != RedisReply::Type::array || primary.elements.size() < 2 ||
          primary.elements[0].type != RedisReply::Type::string ||
          primary.elements[1].type != RedisReply::Type::integer ||
          primary.elements[1].integer <= 0 || primary.elements[1].integer > 65535) {
        continue;
      }
      std::string host = primary.elements[0].str;
      if (host.empty() || host == "?") host = at.host;  // "the address you reached me on"
      const RedisEndpoint node{host, static_cast<std::uint16_t>(primary.elements[1].integer)};
      auto it = std::find(nodes.begin(), nodes.end(), node);
      if (it == nodes.end()) it = nodes.insert(nodes.end(), node);
      const auto index = static_cast<std::uint16_t>(it - nodes.begin() + 1);
      std::fill(owners.begin() + first.integer, owners.begin() + last.integer + 1, index);
    }
    if (nodes.empty()) {
      last_error = "Redis " + at.text() + ": CLUSTER SLOTS: no slot has an owner";
      continue;
    }
    nodes_ = std::move(nodes);
    slot_node_ = std::move(owners);
    slots_stale_ = false;
    return;
  }
  throw RedisError(last_error);
}

RedisReply RedisClient::cluster_key_command(const std::vector<std::string>& argv,
                                            std::size_t key_index, Deadline deadline) {
  const std::uint16_t slot = key_slot(argv.at(key_index));
  if (slots_stale_) {
    try {
      load_slots(deadline);
    } catch (const RedisError&) {
      // Seeds and redirects still work; the map is asked for again next call.
    }
  }
  const auto next_known = [&](const RedisEndpoint& not_this) {
    const std::vector<RedisEndpoint> nodes = known_nodes();
    for (std::size_t i = 0; i < nodes.size(); ++i) {
      const RedisEndpoint& n = nodes[++next_node_ % nodes.size()];
      if (!(n == not_this) || nodes.size() == 1) return n;
    }
    return nodes.front();
  };
  RedisEndpoint at;
  if (!slot_node_.empty() && slot_node_[slot] != 0) {
    at = nodes_[slot_node_[slot] - 1u];
  } else {
    const std::vector<RedisEndpoint> nodes = known_nodes();
    at = nodes[next_node_ % nodes.size()];
  }
  bool asking = false;
  std::string last_error;
  std::string unreachable;  // the last node that could not be reached, and why
  for (int hop = 0; hop < kMaxClusterHops; ++hop) {
    RedisReply r;
    try {
      // ASKING holds for the next command on this connection only.
      if (asking) exchange(at, {"ASKING"}, deadline);
      r = exchange(at, argv, deadline);
    } catch (const RedisError& e) {
      last_error = unreachable = e.what();
      forget_node(at);
      if (time_left(deadline).count() <= 0) break;
      at = next_known(at);
      asking = false;
      continue;
    }
    if (!r.is_error()) return r;
    RedisEndpoint target;
    if (redirect_target(r.str, "MOVED", at, target)) {
      auto it = std::find(nodes_.begin(), nodes_.end(), target);
      if (it == nodes_.end()) it = nodes_.insert(nodes_.end(), target);
      if (slot_node_.empty()) slot_node_.assign(kClusterSlots, 0);
      slot_node_[slot] = static_cast<std::uint16_t>(it - nodes_.begin() + 1);
      slots_stale_ = true;  // one slot moved: others may have too
      at = target;
      asking = false;
    } else if (redirect_target(r.str, "ASK", at, target)) {
      at = target;
      asking = true;
    } else {
      return r;  // CLUSTERDOWN, TRYAGAIN, a script error...: the caller's to judge
    }
    last_error = "Redis Cluster: more than " + std::to_string(kMaxClusterHops) + " redirects for " +
                 argv[0] + " (last: " + r.str + ")";
  }
  // Redirected back and forth to a node that is down: say which.
  if (!unreachable.empty()) {
    throw RedisError(unreachable + " (slot " + std::to_string(slot) + ", " + argv[0] + ")");
  }
  throw RedisError(last_error);
}

RedisReply RedisClient::any_command(const std::vector<std::string>& argv) {
  const SigpipeBlocked no_sigpipe;
  const Deadline deadline = SteadyClock::now() + timeout_;
  if (!url_.cluster) return exchange(url_.endpoints.front(), argv, deadline);
  const std::vector<RedisEndpoint> nodes = known_nodes();
  std::string last_error;
  for (std::size_t tried = 0; tried < nodes.size(); ++tried) {
    const RedisEndpoint& at = nodes[next_node_ % nodes.size()];
    try {
      return exchange(at, argv, deadline);
    } catch (const RedisError& e) {
      last_error = e.what();
      ++next_node_;  // a dead node does not stop every call
      if (time_left(deadline).count() <= 0) break;
    }
  }
  throw RedisError(last_error);
}

bool RedisClient::listen(const std::string& channel, std::chrono::milliseconds listen_for,
                         const std::function<void(std::string_view)>& on_message) {
  const SigpipeBlocked no_sigpipe;
  const auto end = SteadyClock::now() + listen_for;
  const std::vector<RedisEndpoint> nodes = url_.cluster ? known_nodes() : url_.endpoints;
  std::unique_ptr<Connection> conn;
  RedisEndpoint at;
  std::string last_error;
  for (std::size_t i = 0; i < nodes.size() && !conn; ++i) {
    at = nodes[(next_node_ + i) % nodes.size()];
    const Deadline deadline = SteadyClock::now() + timeout_;
    try {
      // Pub/sub ignores the database: no SELECT.
      auto c = open_connection(url_, at, 0, deadline);
      const RedisReply r = command_on(c->ctx, at, {"SUBSCRIBE", channel}, deadline);
      if (r.type != RedisReply::Type::array || r.elements.empty() ||
          r.elements[0].str != "subscribe") {
        fail(at, "SUBSCRIBE", r.is_error() ? r.str : "an unexpected reply");
      }
      conn = std::move(c);
    } catch (const RedisError& e) {
      last_error = e.what();
    }
  }
  if (!conn) throw RedisError(last_error);
  for (;;) {
    const milliseconds left = time_left(end);
    if (left.count() <= 0) return true;
    redisSetTimeout(conn->ctx, to_timeval(left));
    void* raw = nullptr;
    errno = 0;
    if (redisGetReply(conn->ctx, &raw) != REDIS_OK || raw == nullptr) {
      const int saved_errno = errno;
      // Nothing more within the time is the normal end; anything else ended it early.
      return conn->ctx->err == REDIS_ERR_IO &&
             (saved_errno == EAGAIN || saved_errno == EWOULDBLOCK);
    }
    const std::unique_ptr<redisReply, void (*)(void*)> reply(static_cast<redisReply*>(raw),
                                                             freeReplyObject);
    const RedisReply r = convert(*reply);
    // ["message", channel, payload]
    if (r.type == RedisReply::Type::array && r.elements.size() == 3 &&
        r.elements[0].str == "message" && r.elements[2].type == RedisReply::Type::string) {
      on_message(r.elements[2].str);
    }
  }
}

}  // namespace katsubushi::lease
