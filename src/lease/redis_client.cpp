#include "lease/redis_client.hpp"

#include <hiredis/hiredis.h>
#include <sys/time.h>

#include <charconv>
#include <utility>

namespace katsubushi::lease {

namespace {

constexpr int kMaxRedirects = 5;

timeval to_timeval(std::chrono::milliseconds d) {
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(d.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((d.count() % 1000) * 1000);
  return tv;
}

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
      for (std::size_t i = 0; i < r.elements; ++i) {
        if (r.element[i] != nullptr) out.elements.push_back(convert(*r.element[i]));
      }
      break;
    default:
      out.type = RedisReply::Type::nil;
  }
  return out;
}

std::uint16_t crc16(std::string_view s) {
  std::uint16_t crc = 0;
  for (const char ch : s) {
    crc = static_cast<std::uint16_t>(crc ^ (static_cast<std::uint16_t>(static_cast<unsigned char>(ch)) << 8));
    for (int i = 0; i < 8; ++i) {
      crc = (crc & 0x8000) != 0 ? static_cast<std::uint16_t>((crc << 1) ^ 0x1021)
                                : static_cast<std::uint16_t>(crc << 1);
    }
  }
  return crc;
}

// "MOVED 3999 127.0.0.1:6381" / "ASK 3999 127.0.0.1:6381" -> the address.
bool redirect_target(const std::string& error, std::string_view kind, RedisEndpoint& at) {
  if (!error.starts_with(std::string(kind) + " ")) return false;
  const auto space = error.find(' ', kind.size() + 1);
  if (space == std::string::npos) return false;
  const std::string addr = error.substr(space + 1);
  const auto colon = addr.rfind(':');
  if (colon == std::string::npos) return false;
  unsigned port = 0;
  const auto [end, ec] = std::from_chars(addr.data() + colon + 1, addr.data() + addr.size(), port);
  if (ec != std::errc{} || port == 0 || port > 65535) return false;
  std::string host = addr.substr(0, colon);
  if (host.size() > 2 && host.front() == '[') host = host.substr(1, host.size() - 2);
  at = {host.empty() ? "127.0.0.1" : host, static_cast<std::uint16_t>(port)};
  return true;
}

}  // namespace

std::uint16_t key_slot(std::string_view key) {
  const auto open = key.find('{');
  if (open != std::string_view::npos) {
    const auto close = key.find('}', open + 1);
    if (close != std::string_view::npos && close > open + 1) {
      key = key.substr(open + 1, close - open - 1);
    }
  }
  return static_cast<std::uint16_t>(crc16(key) % 16384);
}

struct RedisClient::Connection {
  redisContext* ctx = nullptr;
  ~Connection() {
    if (ctx != nullptr) redisFree(ctx);
  }
};

RedisClient::RedisClient(RedisUrl url, std::chrono::milliseconds timeout)
    : url_(std::move(url)), timeout_(timeout) {}

RedisClient::~RedisClient() = default;

void RedisClient::disconnect() { connections_.clear(); }

RedisClient::Connection& RedisClient::connection(const RedisEndpoint& at) {
  auto& slot = connections_[at.text()];
  if (slot) return *slot;
  auto conn = std::make_unique<Connection>();
  conn->ctx = redisConnectWithTimeout(at.host.c_str(), at.port, to_timeval(timeout_));
  if (conn->ctx == nullptr) throw RedisError("Redis " + at.text() + ": out of memory");
  if (conn->ctx->err != 0) {
    const std::string why = conn->ctx->errstr;
    connections_.erase(at.text());
    throw RedisError("Redis " + at.text() + ": cannot connect: " + why);
  }
  redisSetTimeout(conn->ctx, to_timeval(timeout_));
  slot = std::move(conn);
  // AUTH and SELECT on every new connection.
  const auto setup = [&](const std::vector<std::string>& argv) {
    const RedisReply r = run(at, argv, false);
    if (r.is_error()) {
      connections_.erase(at.text());
      throw RedisError("Redis " + at.text() + ": " + argv[0] + " refused: " + r.str);
    }
  };
  if (!url_.password.empty()) {
    if (url_.user.empty()) {
      setup({"AUTH", url_.password});
    } else {
      setup({"AUTH", url_.user, url_.password});
    }
  }
  if (url_.db != 0) setup({"SELECT", std::to_string(url_.db)});
  return *connections_[at.text()];
}

RedisReply RedisClient::run(const RedisEndpoint& at, const std::vector<std::string>& argv,
                            bool asking) {
  auto it = connections_.find(at.text());
  Connection& conn = it != connections_.end() ? *it->second : connection(at);
  const auto send = [&](const std::vector<std::string>& args) {
    std::vector<const char*> ptrs;
    std::vector<std::size_t> lens;
    for (const auto& a : args) {
      ptrs.push_back(a.data());
      lens.push_back(a.size());
    }
    auto* raw = static_cast<redisReply*>(
        redisCommandArgv(conn.ctx, static_cast<int>(args.size()), ptrs.data(), lens.data()));
    if (raw == nullptr) {
      const std::string why = conn.ctx->errstr[0] != '\0' ? conn.ctx->errstr : "no reply";
      connections_.erase(at.text());  // hiredis cannot go on after an error
      throw RedisError("Redis " + at.text() + ": " + args[0] + ": " + why);
    }
    RedisReply r = convert(*raw);
    freeReplyObject(raw);
    return r;
  };
  if (asking) send({"ASKING"});
  return send(argv);
}

RedisReply RedisClient::key_command(const std::vector<std::string>& argv, std::size_t key_index) {
  RedisEndpoint at = url_.endpoints[next_seed_ % url_.endpoints.size()];
  bool asking = false;
  bool from_seed = true;
  if (url_.cluster) {
    const auto owner = slot_owner_.find(key_slot(argv.at(key_index)));
    if (owner != slot_owner_.end()) {
      at = owner->second;
      from_seed = false;
    }
  }
  std::size_t seeds_tried = 0;
  for (int redirects = 0;; ++redirects) {
    RedisReply r;
    try {
      r = run(at, argv, asking);
    } catch (const RedisError&) {
      if (!url_.cluster) throw;
      // A dead node: forget what it owned; ask the next seed, which
      // redirects to the slot's owner now (after a failover, a new one).
      std::erase_if(slot_owner_, [&](const auto& kv) { return kv.second == at; });
      ++next_seed_;
      if (!from_seed) seeds_tried = 0;
      if (++seeds_tried > url_.endpoints.size()) throw;
      at = url_.endpoints[next_seed_ % url_.endpoints.size()];
      from_seed = true;
      asking = false;
      continue;
    }
    if (!url_.cluster || !r.is_error()) return r;
    RedisEndpoint target;
    if (redirect_target(r.str, "MOVED", target)) {
      slot_owner_[key_slot(argv.at(key_index))] = target;
      at = target;
      asking = false;
    } else if (redirect_target(r.str, "ASK", target)) {
      at = target;
      asking = true;
    } else {
      return r;
    }
    if (redirects >= kMaxRedirects) {
      throw RedisError("Redis Cluster: more than " + std::to_string(kMaxRedirects) +
                       " redirects for " + argv[0]);
    }
  }
}

RedisReply RedisClient::any_command(const std::vector<std::string>& argv) {
  // Seeds in turn, so a dead one does not stop every call.
  std::string last_error;
  for (std::size_t tried = 0; tried < url_.endpoints.size(); ++tried) {
    const RedisEndpoint& at = url_.endpoints[next_seed_ % url_.endpoints.size()];
    try {
      return run(at, argv, false);
    } catch (const RedisError& e) {
      last_error = e.what();
      ++next_seed_;
    }
  }
  throw RedisError(last_error);
}

}  // namespace katsubushi::lease
