// The sans-I/O session core: bytes in, reply bytes (and "close") out.
// The Asio shell, the fuzzers and the tests all drive this same object.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "config/limits.hpp"
#include "id/generator.hpp"
#include "proto/stats.hpp"
#include "proto/text_command.hpp"

namespace katsubushi::proto {

struct SessionLimits {
  // A request line longer than this gets CLIENT_ERROR and the connection closes.
  std::size_t max_line_bytes = config::kDefaultMaxLineBytes;
  // Past this much unsent output the core stops taking requests (backpressure).
  std::size_t max_output_bytes = config::kMaxOutputBytes;
  // A storage command announcing more than this is refused and the connection
  // closes: we would have to skip it blind to stay in sync.
  std::size_t max_data_block_bytes = config::kMaxDataBlockBytes;
};

struct SessionServices {
  id::IdGenerator& generator;
  ProtocolCounters& counters;
  StatsSource* stats = nullptr;  // null: `stats` answers with an empty list
  std::string_view version = "0.0.0";
};

enum class Protocol { undecided, text, binary, http };

class SessionCore {
 public:
  SessionCore(SessionServices services, SessionLimits limits);

  // Zero-copy input: write up to `n` bytes into prepare(n), then commit().
  std::span<char> prepare(std::size_t n);
  void commit(std::size_t n);
  // Copying convenience for tests and fuzzers.
  void receive(std::string_view bytes);

  // Answers every complete request that is buffered, stopping early when the
  // output is over its limit or the session is closing.
  void process();

  std::string_view output() const noexcept {
    return std::string_view(out_).substr(out_begin_);
  }
  void consume_output(std::size_t n) noexcept;

  // The shell closes the connection once output() is empty and this is true.
  bool closing() const noexcept { return closing_; }
  // Whether the shell should read more now (false under backpressure).
  bool wants_input() const noexcept;
  // Complete requests handled so far: the idle timer restarts when it grows.
  std::uint64_t completed_requests() const noexcept { return completed_; }
  // Bytes held for this connection, input and output together.
  std::size_t buffered_bytes() const noexcept;
  Protocol protocol() const noexcept { return protocol_; }

 private:
  std::string_view pending_input() const noexcept {
    return std::string_view(in_).substr(in_begin_, in_end_ - in_begin_);
  }
  void decide_protocol();
  void process_text();
  void handle_line(std::string_view line);
  void handle_get(bool with_cas);
  void handle_stats(std::string_view group);
  void swallow_data();
  void reply(std::string_view s) { out_.append(s); }
  void close_after(std::string_view final_reply);
  void compact_input();

  SessionServices svc_;
  SessionLimits limits_;
  Protocol protocol_ = Protocol::undecided;

  std::string in_;
  std::size_t in_begin_ = 0;
  std::size_t in_end_ = 0;
  std::size_t scanned_ = 0;  // bytes of pending input known to hold no '\n'
  std::string out_;
  std::size_t out_begin_ = 0;

  TextCommand cmd_;
  std::vector<std::uint64_t> ids_;

  // Storage data block being skipped: bytes left, including its "\r\n".
  std::uint64_t swallow_left_ = 0;
  bool swallow_noreply_ = false;
  char swallow_tail_[2] = {0, 0};

  bool closing_ = false;
  std::uint64_t completed_ = 0;
};

}  // namespace katsubushi::proto
