// RedisClient's Redis Cluster routing (rediscluster://): hash slots, the
// slot map learnt with CLUSTER SLOTS, MOVED and ASK, and the next node when
// one cannot be reached. The connections and the calls themselves are in
// redis_client.cpp.
#include "lease/redis_client.hpp"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <string>
#include <string_view>
#include <vector>

namespace katsubushi::lease {

namespace {

std::chrono::milliseconds time_left(std::chrono::steady_clock::time_point deadline) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(deadline -
                                                               std::chrono::steady_clock::now());
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

std::size_t RedisClient::known_slots() const {
  return static_cast<std::size_t>(
      std::count_if(slot_node_.begin(), slot_node_.end(), [](std::uint16_t n) { return n != 0; }));
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
                                            std::size_t key_index, Deadline deadline,
                                            FollowUp follow) {
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
      r = exchange(at, argv, deadline, follow);
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

}  // namespace katsubushi::lease
