// The memcached text protocol of one connection, meta commands included:
// request lines in, replies out, with storage data blocks (and ms's) skipped
// so the stream stays in sync.
#pragma once

#include <cstdint>
#include <memory>
#include <string_view>
#include <system_error>
#include <vector>

#include "service/buffers.hpp"
#include "service/id_service.hpp"
#include "proto/line_framer.hpp"
#include "proto/meta_command.hpp"
#include "service/session_services.hpp"
#include "proto/text_command.hpp"

namespace katsubushi::proto {

class TextSession {
 public:
  TextSession(const service::SessionServices& services, const service::SessionLimits& limits);

  // Answers the complete requests in `in`, a bounded amount of work at a
  // time: it stops when `out` is over its limit, when the session is closing,
  // when it has issued a millisecond's worth of ids (kIdsPerStep; then
  // yielded() is true and the next call goes on), or when the generator says
  // "not before T" (then not_before_unix_ms() is T). A get with many keys is
  // answered a slice at a time; its line stays at the front of `in` until its
  // END is written.
  void process(service::InputBuffer& in, service::OutputBuffer& out);

  // Ids one process() call issues at most: a millisecond's worth.
  static constexpr std::size_t kIdsPerStep = 4096;

  // The peer sends nothing more. From the next process() on, a last line
  // without its "\n" is a complete line (as go-katsubushi's line scanner
  // has it), a request still missing bytes (a cut data block) is dropped,
  // and once everything buffered is answered the session is closing.
  void end_of_input() noexcept { end_of_input_ = true; }

  bool closing() const noexcept { return closing_; }
  std::uint64_t completed_requests() const noexcept { return completed_; }
  // A request is half answered: the next process() goes on with it.
  bool in_request() const noexcept { return line_bytes_ != 0; }
  // process() stopped with work it can do at once (its step's ids ran out).
  bool yielded() const noexcept { return yielded_; }
  // Non-zero: the request in hand waits for the generator until this time
  // (unix ms on its clock); process() before then just asks again.
  std::int64_t not_before_unix_ms() const noexcept { return not_before_; }

 private:
  // `used`: the line's bytes in `in`, its "\n" included; they are consumed
  // here, at once or once a request waiting for ids is answered.
  void handle_line(std::string_view line, std::size_t used, service::InputBuffer& in, service::OutputBuffer& out);
  void handle_last_line(service::InputBuffer& in, service::OutputBuffer& out);
  // Goes on with the line in hand (a get's next slice, or a meta get again).
  void resume(service::InputBuffer& in, service::OutputBuffer& out);
  void continue_get(service::InputBuffer& in, service::OutputBuffer& out);
  // The line in hand stays in `in` until answered.
  void hold_line(std::string_view line, std::size_t used);
  void finish_line(service::InputBuffer& in);
  void handle_stats(const TextCommand& cmd, service::OutputBuffer& out);
  void handle_meta(std::string_view line, service::InputBuffer& in, service::OutputBuffer& out);
  void start_swallow(std::uint64_t data_bytes, std::string_view reply, bool noreply,
                     service::InputBuffer& in, service::OutputBuffer& out);
  void swallow_data(service::InputBuffer& in, service::OutputBuffer& out);
  void close_after(std::string_view final_reply, service::InputBuffer& in, service::OutputBuffer& out);
  // A long line still arriving: if it is a get, scan the keys that came.
  void scan_ahead(std::string_view pending);
  static void append_server_error(std::error_code ec, service::OutputBuffer& out);

  const service::SessionServices& services_;
  const service::SessionLimits& limits_;
  service::IdService ids_;
  LineFramer framer_;

  // The line in hand, at the front of the input: its length without and
  // with its end of line (0: none), and for a get, where its next key's
  // search starts in it and how many keys are left.
  std::size_t line_length_ = 0;
  std::size_t line_bytes_ = 0;
  std::size_t get_cursor_ = 0;
  std::size_t get_keys_left_ = 0;
  std::size_t ids_left_in_step_ = 0;
  std::int64_t not_before_ = 0;

  // Data block being skipped: bytes left, including its "\r\n", and the reply
  // owed once it has been (ERROR for storage commands, a CLIENT_ERROR for ms).
  std::uint64_t swallow_left_ = 0;
  std::string_view swallow_reply_;

  // The keys of a get line of megabytes, scanned a read at a time as it
  // arrives (scan_ahead), so that its "\n" does not cost a scan of all of
  // them at once while the thread's other connections wait. Made only for
  // such a line (an idle session holds a null pointer).
  std::unique_ptr<KeysScannedAhead> ahead_;
  std::uint64_t completed_ = 0;

  // The flags together, so they share one word of the session.
  bool get_active_ = false;
  bool get_with_cas_ = false;
  bool yielded_ = false;
  bool swallow_noreply_ = false;
  char swallow_tail_[2] = {0, 0};
  bool end_of_input_ = false;
  bool closing_ = false;
  bool not_a_get_ahead_ = false;  // the long line in arrival is not a get

 public:
  // A line still arriving is scanned ahead once this many bytes of it are in
  // (or a quarter of the line limit, when that is less: the fuzzer's short
  // lines take this path too).
  static constexpr std::size_t kScanAheadFromBytes = std::size_t{64} * 1024;
};

}  // namespace katsubushi::proto
