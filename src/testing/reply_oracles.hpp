// The reply oracles of the memcached text and meta session, from the fuzzers
// (fuzz_session.cpp) and shared with the properties: a transcript is walked
// reply by reply and every reply must be one this server sends, well formed,
// with ids that carry the worker id, equal their cas and only grow.
#pragma once

#include <charconv>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "id/layout.hpp"
#include "proto/meta_base64.hpp"
#include "proto/meta_command.hpp"
#include "proto/text_command.hpp"
#include "session/sniff.hpp"
#include "testing/session_rig.hpp"
#include "testing/wire.hpp"

namespace katsubushi::testing {

// What a violated oracle does with its reason. It must not return: a fuzzer
// traps, a property throws.
using OracleFailure = void (*)(const std::string& why);

// What the replies of the session under test must carry.
struct ReplyExpectations {
  std::uint32_t worker_id = 0;  // ids carry worker_id..worker_id+worker_id_count-1
  std::uint32_t worker_id_count = 1;
  std::string_view version;    // after "VERSION "
  std::string general_stats;   // the whole reply to `stats` (stats_reply())
  std::string settings_stats;  // the whole reply to `stats settings`
};

// What a session rig built from `options` answers with (its FixedStats).
inline ReplyExpectations rig_reply_expectations(const RigOptions& options) {
  FixedStats stats;
  return {options.worker_id, options.generator.worker_id_count, options.version,
          stats_reply(stats.general_stats()), stats_reply(stats.settings_stats())};
}

// The STAT blocks `stats slabs` and `stats sizes` answer, whole.
inline constexpr std::string_view kSlabsReply =
    "STAT active_slabs 0\r\nSTAT total_malloced 0\r\nEND\r\n";
inline constexpr std::string_view kSizesReply = "STAT sizes_status disabled\r\nEND\r\n";

// Walks everything the session wrote, reply by reply (run()), checking each.
class ReplyChecker {
 public:
  ReplyChecker(std::string_view transcript, ReplyExpectations expect, OracleFailure fail)
      : s_(transcript), expect_(std::move(expect)), fail_(fail) {}

  void run(session::Protocol protocol, bool closing) {
    if (protocol == session::Protocol::http) {
      check_http(closing);
      return;
    }
    if (protocol != session::Protocol::text) check(s_.empty());
    while (pos_ < s_.size()) one_reply(closing);
  }

  // Keys answered with an id (VALUE lines, VA and HD replies), in all and
  // since the last RESET.
  std::size_t hits() const { return hits_; }
  std::size_t hits_since_reset() const { return hits_since_reset_; }

 private:
  // Hands a violation to fail_, which does not return; if it did, what
  // follows would read past the transcript, so the process ends here.
  void check(bool ok) const {
    if (ok) return;
    fail_("reply oracle violated by the reply at byte " + std::to_string(reply_at_) + " of\n" +
          escaped(s_));
    std::abort();
  }

  std::uint64_t parse_decimal(std::string_view s) const {
    std::uint64_t v = 0;
    const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    check(!s.empty() && ec == std::errc() && end == s.data() + s.size());
    check(s.size() == 1 || s.front() != '0');  // written by to_chars: no leading zeros
    return v;
  }

  static std::vector<std::string_view> split(std::string_view s) {
    std::vector<std::string_view> out;
    for (std::size_t start = 0;;) {
      const std::size_t sp = s.find(' ', start);
      out.push_back(s.substr(start, sp - start));
      if (sp == std::string_view::npos) return out;
      start = sp + 1;
    }
  }

  std::string_view line() {
    const std::size_t end = s_.find("\r\n", pos_);
    check(end != std::string_view::npos);
    const std::string_view l = s_.substr(pos_, end - pos_);
    pos_ = end + 2;
    return l;
  }

  void one_reply(bool closing) {
    reply_at_ = pos_;
    const std::string_view rest = s_.substr(pos_);
    if (rest.starts_with("STAT ")) {
      for (const std::string_view block :
           {std::string_view(expect_.general_stats), std::string_view(expect_.settings_stats),
            kSlabsReply, kSizesReply}) {
        if (rest.starts_with(block)) {
          pos_ += block.size();
          return;
        }
      }
      check(false);  // a STAT block this server does not send
    }
    const std::string_view l = line();
    // END alone: stats items/conns, stats detail dump, stats cachedump.
    if (l == "ERROR" || l == "OK" || l == "END" || l == "MN" ||
        l == "VERSION " + std::string(expect_.version)) {
      return;
    }
    if (l == "RESET") {
      hits_since_reset_ = 0;
      return;
    }
    if (l.starts_with("VALUE ")) {
      values(l);
      return;
    }
    if (l.starts_with("VA ") || l == "HD" || l.starts_with("HD ")) {
      meta_get(l);
      return;
    }
    for (std::string_view prefix : {"CLIENT_ERROR ", "SERVER_ERROR "}) {
      if (!l.starts_with(prefix)) continue;
      const std::string_view msg = error_message(l, prefix);
      // These two end the connection: nothing may follow them.
      if (msg == "line too long" || msg == "data block too large") {
        check(closing && pos_ == s_.size());
      }
      return;
    }
    check(false);  // not a reply this server sends
  }

  // A printable reason after the prefix.
  std::string_view error_message(std::string_view l, std::string_view prefix) const {
    const std::string_view msg = l.substr(prefix.size());
    check(!msg.empty());
    for (char c : msg) check(c >= 0x20 && c < 0x7f);
    return msg;
  }

  // VALUE <key> 0 <len>[ <cas>]\r\n<len digits>\r\n ... END\r\n, or
  // SERVER_ERROR <reason>\r\n instead of END when the generator failed
  // after some slices: the VALUEs already sent stand.
  void values(std::string_view first) {
    std::optional<bool> with_cas;
    for (std::string_view l = first; l != "END"; l = line()) {
      if (l.starts_with("SERVER_ERROR ")) {
        error_message(l, "SERVER_ERROR ");
        return;
      }
      const auto t = split(l);
      check((t.size() == 4 || t.size() == 5) && t[0] == "VALUE" && t[2] == "0");
      check(proto::valid_key(t[1]));
      // One reply is either all get (no cas) or all gets.
      check(!with_cas || *with_cas == (t.size() == 5));
      with_cas = t.size() == 5;
      const std::uint64_t len = parse_decimal(t[3]);
      check(len >= 1 && len <= 19 && s_.size() - pos_ >= len + 2);
      const std::uint64_t id = parse_decimal(s_.substr(pos_, len));
      pos_ += len;
      check(line().empty());
      if (*with_cas) check(parse_decimal(t[4]) == id);
      saw_id(id);
      hit();
    }
  }

  void hit() {
    ++hits_;
    ++hits_since_reset_;
  }

  void saw_id(std::uint64_t id) {
    const std::uint32_t worker = id::decode(id).worker_id;
    check((id >> 63) == 0 && worker >= expect_.worker_id &&
          worker - expect_.worker_id < expect_.worker_id_count);
    check(!seen_id_ || id > last_id_);
    last_id_ = id;
    seen_id_ = true;
  }

  // VA <len> <flags>*\r\n<id>\r\n or HD <flags>*\r\n: each return flag at
  // most once; k<key> (then b if it is base64), O<opaque>, c<id>, f0,
  // s<len>, t-1; c and s agree with the id.
  void meta_get(std::string_view first) {
    const auto t = split(first);
    const bool with_value = t[0] == "VA";
    std::size_t i = 1;
    std::uint64_t len = 0;
    if (with_value) {
      check(t.size() >= 2);
      len = parse_decimal(t[1]);
      check(len >= 1 && len <= 19);
      i = 2;
    }
    std::optional<std::uint64_t> cas;
    std::optional<std::uint64_t> size;
    std::string seen;
    for (; i < t.size(); ++i) {
      const std::string_view flag = t[i];
      check(!flag.empty() && seen.find(flag[0]) == std::string::npos);
      seen += flag[0];
      const std::string_view arg = flag.substr(1);
      switch (flag[0]) {
        case 'k':
          if (i + 1 < t.size() && t[i + 1] == "b") {
            const auto decoded = proto::base64_decode(arg);
            check(decoded && !decoded->empty() && arg.size() <= proto::kMaxKeyBytes);
            ++i;
          } else {
            check(proto::valid_key(arg));
          }
          break;
        case 'O':
          check(arg.size() <= proto::kMaxOpaqueBytes);
          for (const char c : arg) check(static_cast<unsigned char>(c) > 0x20 && c != 0x7f);
          break;
        case 'c':
          cas = parse_decimal(arg);
          break;
        case 's':
          size = parse_decimal(arg);
          break;
        case 'f':  // client flags: always 0
        case 't':  // TTL: never expires
          check(arg == (flag[0] == 'f' ? "0" : "-1"));
          break;
        default:
          check(false);
      }
    }
    hit();
    if (with_value) {
      check(s_.size() - pos_ >= len + 2);
      const std::uint64_t id = parse_decimal(s_.substr(pos_, len));
      pos_ += len;
      check(line().empty());
      check(!cas || *cas == id);
      check(!size || *size == len);
      saw_id(id);
    } else if (cas) {
      check(!size || *size == std::to_string(*cas).size());
      saw_id(*cas);
    }
  }

  // The one HTTP reply: status line, headers, a body of Content-Length bytes,
  // then the connection closes.
  void check_http(bool closing) {
    check(closing);
    check(line().starts_with("HTTP/1.1 "));
    std::optional<std::uint64_t> content_length;
    bool connection_close = false;
    for (std::string_view h = line(); !h.empty(); h = line()) {
      const std::size_t colon = h.find(": ");
      check(colon != std::string_view::npos && colon > 0);
      if (h.substr(0, colon) == "Content-Length")
        content_length = parse_decimal(h.substr(colon + 2));
      if (h == "Connection: close") connection_close = true;
    }
    check(content_length.has_value() && connection_close);
    check(s_.size() - pos_ == *content_length);
  }

  std::string_view s_;
  std::size_t pos_ = 0;
  std::size_t reply_at_ = 0;  // where the reply being checked starts
  ReplyExpectations expect_;
  OracleFailure fail_;
  std::uint64_t last_id_ = 0;
  bool seen_id_ = false;
  std::size_t hits_ = 0;
  std::size_t hits_since_reset_ = 0;
};

}  // namespace katsubushi::testing
