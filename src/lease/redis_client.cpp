#include "lease/redis_client.hpp"

#include <hiredis/hiredis.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <algorithm>
#include <cerrno>
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

// hiredis's view of an argument list.
struct ArgvView {
  explicit ArgvView(const std::vector<std::string>& argv) {
    ptrs.reserve(argv.size());
    lens.reserve(argv.size());
    for (const auto& a : argv) {
      ptrs.push_back(a.data());
      lens.push_back(a.size());
    }
  }
  int count() const { return static_cast<int>(ptrs.size()); }
  std::vector<const char*> ptrs;
  std::vector<std::size_t> lens;
};

// One command on a context, its reply owned. Throws RedisError; the context
// is unusable afterwards (hiredis cannot go on after an error).
RedisReply command_on(redisContext* ctx, const RedisEndpoint& at,
                      const std::vector<std::string>& argv, SteadyClock::time_point deadline) {
  const milliseconds left = time_left(deadline);
  if (left.count() <= 0) fail(at, argv.at(0), "timed out");
  redisSetTimeout(ctx, to_timeval(left));
  ArgvView args(argv);  // hiredis 0.14 takes the pointers non-const
  errno = 0;
  void* raw = redisCommandArgv(ctx, args.count(), args.ptrs.data(), args.lens.data());
  const int saved_errno = errno;
  if (raw == nullptr) fail(at, argv.at(0), failure(*ctx, saved_errno, left));
  const std::unique_ptr<redisReply, void (*)(void*)> reply(static_cast<redisReply*>(raw),
                                                           freeReplyObject);
  return convert(*reply);
}

// Writes `argv` on a connection whose last command got no reply, behind that
// command, without waiting. Only when hiredis wrote that command whole (its
// output buffer is empty): bytes behind a command cut short would be read as
// the rest of its arguments. Whether the bytes went out whole.
bool write_behind(const redisContext& ctx, const std::vector<std::string>& argv) {
  if (ctx.fd < 0 || ctx.obuf == nullptr || ctx.obuf[0] != '\0') return false;
  ArgvView args(argv);  // hiredis 0.14 takes the pointers non-const
  char* cmd = nullptr;
  const int len = redisFormatCommandArgv(&cmd, args.count(), args.ptrs.data(), args.lens.data());
  if (len < 0) return false;
  // A few hundred bytes into an idle socket's buffer: never short in practice.
  const ssize_t sent =
      ::send(ctx.fd, cmd, static_cast<std::size_t>(len), MSG_DONTWAIT | MSG_NOSIGNAL);
  redisFreeCommand(cmd);
  return sent == len;
}

}  // namespace

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
                                 Deadline deadline, FollowUp follow) {
  Connection& conn = connection(at, deadline);
  RedisReply r;
  try {
    r = command_on(conn.ctx, at, argv, deadline);
  } catch (const RedisError& e) {
    // Closing after the undo keeps both in order: Redis reads what was sent
    // before it sees the end of the connection.
    const bool undone = follow.undo != nullptr && write_behind(*conn.ctx, *follow.undo);
    connections_.erase(at.text());
    if (!undone) throw;
    throw RedisError(std::string(e.what()) + " (" + follow.undo->at(0) +
                     " undo queued behind it)");
  }
  if (follow.then != nullptr && !r.is_error()) {
    try {
      *follow.then_reply = command_on(conn.ctx, at, *follow.then, deadline);
    } catch (const RedisError&) {
      connections_.erase(at.text());
      throw;
    }
  }
  return r;
}

RedisReply RedisClient::key_command(const std::vector<std::string>& argv, std::size_t key_index) {
  const SigpipeBlocked no_sigpipe;
  const Deadline deadline = SteadyClock::now() + timeout_;
  if (!url_.cluster) return exchange(url_.endpoints.front(), argv, deadline);
  return cluster_key_command(argv, key_index, deadline, {});
}

RedisReply RedisClient::key_command_then(const std::vector<std::string>& argv,
                                         std::size_t key_index,
                                         const std::vector<std::string>& then,
                                         RedisReply& then_reply) {
  const SigpipeBlocked no_sigpipe;
  const Deadline deadline = SteadyClock::now() + timeout_;
  then_reply = RedisReply{};
  const FollowUp follow{.then = &then, .then_reply = &then_reply};
  if (!url_.cluster) return exchange(url_.endpoints.front(), argv, deadline, follow);
  return cluster_key_command(argv, key_index, deadline, follow);
}

RedisReply RedisClient::key_command_or_undo(const std::vector<std::string>& argv,
                                            const std::vector<std::string>& undo,
                                            std::size_t key_index) {
  const SigpipeBlocked no_sigpipe;
  const Deadline deadline = SteadyClock::now() + timeout_;
  if (!url_.cluster) return exchange(url_.endpoints.front(), argv, deadline, {.undo = &undo});
  return cluster_key_command(argv, key_index, deadline, {.undo = &undo});
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
