// The memcached text protocol of one connection, meta commands included:
// request lines in, replies out, with storage data blocks (and ms's) skipped
// so the stream stays in sync.
#pragma once

#include <cstdint>
#include <string_view>
#include <system_error>
#include <vector>

#include "proto/buffers.hpp"
#include "proto/id_service.hpp"
#include "proto/line_framer.hpp"
#include "proto/meta_command.hpp"
#include "proto/session_services.hpp"
#include "proto/text_command.hpp"

namespace katsubushi::proto {

class TextSession {
 public:
  TextSession(const SessionServices& services, const SessionLimits& limits);

  // Answers every complete request in `in`, stopping early when `out` is
  // over its limit or the session is closing.
  void process(InputBuffer& in, OutputBuffer& out);

  // The peer sends nothing more. From the next process() on, a last line
  // without its "\n" is a complete line (as go-katsubushi's line scanner
  // has it), a request still missing bytes (a cut data block) is dropped,
  // and once everything buffered is answered the session is closing.
  void end_of_input() noexcept { end_of_input_ = true; }

  bool closing() const noexcept { return closing_; }
  std::uint64_t completed_requests() const noexcept { return completed_; }

 private:
  void handle_line(std::string_view line, InputBuffer& in, OutputBuffer& out);
  void handle_last_line(InputBuffer& in, OutputBuffer& out);
  void handle_get(bool with_cas, OutputBuffer& out);
  void handle_stats(OutputBuffer& out);
  void handle_meta(std::string_view line, InputBuffer& in, OutputBuffer& out);
  void start_swallow(std::uint64_t data_bytes, std::string_view reply, bool noreply,
                     InputBuffer& in, OutputBuffer& out);
  void swallow_data(InputBuffer& in, OutputBuffer& out);
  void close_after(std::string_view final_reply, InputBuffer& in, OutputBuffer& out);
  static void append_server_error(std::error_code ec, OutputBuffer& out);

  const SessionServices& services_;
  const SessionLimits& limits_;
  IdService ids_;
  LineFramer framer_;

  TextCommand cmd_;
  MetaRequest meta_;
  std::vector<std::uint64_t> id_scratch_;

  // Data block being skipped: bytes left, including its "\r\n", and the reply
  // owed once it has been (ERROR for storage commands, a CLIENT_ERROR for ms).
  std::uint64_t swallow_left_ = 0;
  std::string_view swallow_reply_;
  bool swallow_noreply_ = false;
  char swallow_tail_[2] = {0, 0};

  bool end_of_input_ = false;
  bool closing_ = false;
  std::uint64_t completed_ = 0;
};

}  // namespace katsubushi::proto
