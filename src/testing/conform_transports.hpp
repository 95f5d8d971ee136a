// Servers for the conformance runner's unit tests, behind its Transport: a
// scripted one (a function from the bytes received to the reply), and this
// project's own session core, optionally with a feature taken out, to check
// what verdict the committed cases give a server that lacks it.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <utility>

#include "conform/transport.hpp"
#include "id/generator.hpp"
#include "id/manual_clock.hpp"
#include "service/stats.hpp"
#include "session/session.hpp"
#include "testing/binary_wire.hpp"
#include "testing/session_rig.hpp"

namespace katsubushi::testing {

// The server side of a scripted connection: given the bytes of one send, the
// reply and whether to close after it.
struct Answer {
  std::string bytes;
  bool close = false;
};
using Script = std::function<Answer(std::string_view request)>;

// What both in-memory servers share: replies wait until the client reads
// them; once the server has closed, a send fails as on a socket the peer
// closed.
class InMemoryTransport : public conform::Transport {
 public:
  conform::RecvStatus recv(std::string& out, conform::Millis, std::string&) final {
    if (!pending_.empty()) {
      out += pending_;
      pending_.clear();
      return conform::RecvStatus::data;
    }
    return closed_ ? conform::RecvStatus::closed : conform::RecvStatus::timeout;
  }

 protected:
  // Whether the connection is still open; if not, the error a send gets.
  bool open_for_send(std::string& error, bool& peer_closed) const {
    if (!closed_) return true;
    error = "send: Broken pipe";
    peer_closed = true;
    return false;
  }

  std::string pending_;  // replied, not yet read
  bool closed_ = false;
};

class ScriptedTransport final : public InMemoryTransport {
 public:
  // `sent`, if given, collects every byte sent; it outlives the connection.
  explicit ScriptedTransport(Script script, std::string* sent = nullptr)
      : script_(std::move(script)), sent_(sent) {}

  bool send(std::string_view bytes, conform::Millis, std::string& error,
            bool& peer_closed) override {
    if (!open_for_send(error, peer_closed)) return false;
    if (sent_ != nullptr) *sent_ += bytes;
    Answer a = script_(bytes);
    pending_ += a.bytes;
    closed_ = a.close;
    return true;
  }

 private:
  Script script_;
  std::string* sent_;
};

// go-katsubushi's nine stats, in its order, as the `stat` cases expect.
class NineStats final : public service::StatsSource {
 public:
  service::StatList general_stats() override {
    return {{"pid", "1"},     {"uptime", "2"},           {"time", "3"},
            {"version", "4"}, {"curr_connections", "1"}, {"total_connections", "1"},
            {"cmd_get", "0"}, {"get_hits", "0"},         {"get_misses", "0"}};
  }
  service::StatList settings_stats() override { return {}; }
};

// Binary Noop requests (magic 0x80, opcode 0x0a) removed from `bytes`, which
// hold whole packets: a server without Noop that never answers one.
inline std::string without_binary_noops(std::string_view bytes) {
  constexpr std::uint8_t kNoop = 0x0a;
  std::string kept;
  while (bytes.size() >= kBinaryHeaderBytes) {
    const std::uint64_t size = kBinaryHeaderBytes + binary_body_length(bytes);
    if (size > bytes.size()) break;  // a malformed length: passed on as it is
    if (static_cast<std::uint8_t>(bytes[0]) != kRequestMagic ||
        static_cast<std::uint8_t>(bytes[1]) != kNoop) {
      kept += bytes.substr(0, size);
    }
    bytes.remove_prefix(size);
  }
  kept += bytes;
  return kept;
}

// This project's session core (simulated clock) as the server; `filter`
// rewrites what the client sends before the session sees it.
class SessionTransport final : public InMemoryTransport {
 public:
  using Filter = std::function<std::string(std::string_view)>;
  explicit SessionTransport(Filter filter = {})
      : clock_(kDefaultStartUnixMs),
        generator_(clock_, kDefaultWorker, {}),
        core_(service::SessionServices{generator_, counters_, &stats_, kDefaultVersion}, {}),
        filter_(std::move(filter)) {}

  bool send(std::string_view bytes, conform::Millis, std::string& error,
            bool& peer_closed) override {
    if (!open_for_send(error, peer_closed)) return false;
    core_.receive(filter_ ? filter_(bytes) : std::string(bytes));
    for (;;) {
      core_.process();
      pending_ += core_.output();
      core_.consume_output(core_.output().size());
      if (const std::int64_t at = core_.not_before_unix_ms(); at != 0) {
        if (clock_.now_unix_ms() < at) clock_.set(at);
      } else if (!core_.yielded()) {
        break;
      }
    }
    closed_ = core_.closing();
    return true;
  }

 private:
  id::ManualClock clock_;
  id::IdGenerator generator_;
  service::ProtocolCounters counters_;
  NineStats stats_;
  session::SessionCore core_;
  Filter filter_;
};

}  // namespace katsubushi::testing
