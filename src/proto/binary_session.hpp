// The memcached binary protocol of one connection (first byte 0x80): a
// resumable reader of 24-byte headers and their bodies, answering each
// request with one packet (Stat: one per stat and a terminator).
#pragma once

#include <cstdint>
#include <string_view>
#include <system_error>

#include "proto/binary_packet.hpp"
#include "service/buffers.hpp"
#include "service/id_service.hpp"
#include "service/session_services.hpp"

namespace katsubushi::proto {

class BinarySession {
 public:
  BinarySession(const service::SessionServices& services, const service::SessionLimits& limits);

  // Answers every complete request in `in`, stopping early when `out` is
  // over its limit or the session is closing.
  void process(service::InputBuffer& in, service::OutputBuffer& out);

  bool closing() const noexcept { return closing_; }
  std::uint64_t completed_requests() const noexcept { return completed_; }
  // Non-zero: the request at the front of the input waits for the generator
  // until this time (unix ms on its clock); it is answered by a later process().
  std::int64_t not_before_unix_ms() const noexcept { return not_before_; }

 private:
  // Checks every header passes, whatever its opcode (memcached's order):
  // key + extras within the body, a body we would at least skip, a key no
  // longer than any key.
  bool well_framed(const binary::Header& h) const noexcept;
  // Whether the header's lengths fit its opcode (known opcodes only).
  static bool well_formed(const binary::Header& h) noexcept;
  // False when the request waits for ids (not_before_ says until when).
  bool answer(const binary::Header& h, std::string_view key, service::OutputBuffer& out);
  bool answer_get(const binary::Header& h, std::string_view key, service::OutputBuffer& out);
  void answer_stat(const binary::Header& h, std::string_view key, service::OutputBuffer& out);
  void refuse_and_close(const binary::Header& h, service::InputBuffer& in, service::OutputBuffer& out);
  // How many gets, from the front of `pending` on, this process() call is
  // sure to answer: whole, well-formed get packets in a row, no more than
  // the output room left fits at the largest get reply (1 at least).
  std::size_t gets_ahead(std::string_view pending, const service::OutputBuffer& out) const;

  // Ids taken for the gets read together, one lock for the lot; used up
  // within the process() call that took them, so none outlives the read.
  // The block itself is the thread's (binary_session.cpp), not in every
  // connection: an idle one would carry 2 KiB for nothing.
  std::uint64_t* block_ = nullptr;  // during process()
  std::size_t block_used_ = 0;
  std::size_t block_filled_ = 0;
  std::error_code block_error_;  // why the last block gave no id

  const service::SessionServices& services_;
  const service::SessionLimits& limits_;
  service::IdService ids_;
  std::uint64_t skip_left_ = 0;  // body bytes of an unknown command still to skip
  bool closing_ = false;
  std::uint64_t completed_ = 0;
  std::int64_t not_before_ = 0;
};

}  // namespace katsubushi::proto
