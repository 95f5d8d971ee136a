// The memcached binary protocol through SessionCore, as the Asio shell drives
// it: client bytes in fuzzer-chosen chunks, all output read back after each.
//
// Oracles: the output is a sequence of well-formed response packets (magic
// 0x81, body length = extras + key + value); every successful get carries 4
// zero flag bytes and a decimal id equal to its cas, and ids strictly
// increase; buffered bytes stay bounded (an announced body is skipped, never
// buffered); once closing, nothing more is said.
#include <charconv>
#include <cstdint>
#include <string>
#include <string_view>

#include "proto/binary_packet.hpp"
#include "support.hpp"
#include "testing/session_rig.hpp"

namespace {

using namespace katsubushi;
using katsubushi::fuzz::check;

constexpr std::size_t kMaxChunk = 512;

std::uint64_t be(std::string_view s, std::size_t at, std::size_t width) {
  std::uint64_t v = 0;
  for (std::size_t i = 0; i < width; ++i) v = (v << 8) | static_cast<unsigned char>(s[at + i]);
  return v;
}

bool is_get(std::uint64_t op) { return op == 0x00 || op == 0x09 || op == 0x0C || op == 0x0D; }

// Checks every whole packet at the front of `out`, leaving a partial one.
void check_packets(std::string& out, std::uint64_t& last_id) {
  std::size_t at = 0;
  while (out.size() - at >= proto::binary::kHeaderBytes) {
    check(be(out, at, 1) == 0x81);
    const auto op = be(out, at + 1, 1);
    const auto key_length = be(out, at + 2, 2);
    const auto extras_length = be(out, at + 4, 1);
    const auto status = be(out, at + 6, 2);
    const auto body = be(out, at + 8, 4);
    check(key_length + extras_length <= body);
    if (out.size() - at < proto::binary::kHeaderBytes + body) break;
    const std::string_view packet(out.data() + at, proto::binary::kHeaderBytes + body);
    if (is_get(op) && status == 0) {
      check(extras_length == 4 && be(packet, 24, 4) == 0);
      const std::string_view value = packet.substr(24 + extras_length + key_length);
      std::uint64_t id = 0;
      const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), id);
      check(ec == std::errc() && end == value.data() + value.size());
      check(id == be(packet, 16, 8));
      check(id >> 63 == 0 && id > last_id);
      last_id = id;
    }
    at += packet.size();
  }
  out.erase(0, at);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  // Binary traffic only: the text and HTTP targets cover the other branches.
  if (size == 0 || data[0] != proto::binary::kRequestMagic) return 0;
  katsubushi::fuzz::FuzzInput input(data, size);
  testkit::RigOptions options;
  options.limits = {.max_line_bytes = 256, .max_output_bytes = 4096,
                    .max_data_block_bytes = 1024};
  testkit::SessionRig rig(options);
  std::string unparsed;
  std::uint64_t last_id = 0;
  bool closed = false;
  while (!input.empty()) {
    const std::size_t chunk = 1 + input.control().value_or(0) % kMaxChunk;
    const std::string_view bytes = input.client_bytes(chunk);
    if (bytes.empty()) break;
    rig.receive(bytes);
    rig.core.process();
    const std::string_view out = rig.core.output();
    check(!closed || out.empty());
    unparsed.append(out);
    rig.core.consume_output(out.size());
    check_packets(unparsed, last_id);
    // Input waits only for a packet's header and a key: never for a body.
    check(rig.core.buffered_bytes() <= 2 * proto::kKeepBufferBytes + 2 * kMaxChunk);
    closed = rig.core.closing();
  }
  return 0;
}
