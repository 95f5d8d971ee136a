// The memcached text protocol of one connection: request lines in, replies
// out, with storage data blocks skipped so the stream stays in sync.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "proto/buffers.hpp"
#include "proto/id_service.hpp"
#include "proto/line_framer.hpp"
#include "proto/session_services.hpp"
#include "proto/text_command.hpp"

namespace katsubushi::proto {

class TextSession {
 public:
  TextSession(const SessionServices& services, const SessionLimits& limits);

  // Answers every complete request in `in`, stopping early when `out` is
  // over its limit or the session is closing.
  void process(InputBuffer& in, OutputBuffer& out);

  bool closing() const noexcept { return closing_; }
  std::uint64_t completed_requests() const noexcept { return completed_; }

 private:
  void handle_line(std::string_view line, InputBuffer& in, OutputBuffer& out);
  void handle_get(bool with_cas, OutputBuffer& out);
  void handle_stats(std::string_view group, OutputBuffer& out);
  void swallow_data(InputBuffer& in, OutputBuffer& out);
  void close_after(std::string_view final_reply, InputBuffer& in, OutputBuffer& out);

  const SessionServices& services_;
  const SessionLimits& limits_;
  IdService ids_;
  LineFramer framer_;

  TextCommand cmd_;
  std::vector<std::uint64_t> id_scratch_;

  // Storage data block being skipped: bytes left, including its "\r\n".
  std::uint64_t swallow_left_ = 0;
  bool swallow_noreply_ = false;
  char swallow_tail_[2] = {0, 0};

  bool closing_ = false;
  std::uint64_t completed_ = 0;
};

}  // namespace katsubushi::proto
