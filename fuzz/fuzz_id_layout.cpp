// The id bit layout and RFC 3339 time formatting.
// Oracles: encode(decode(x)) == x for every x with bit 63 clear; decode(encode(p))
// == p for parts inside their fields; decoding orders ids like integers do;
// parse_rfc3339_ms(format_rfc3339_ms(ms)) == ms over years 0000..9999; any
// text that parses to an instant in that range formats back to the same instant.
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <tuple>

#include "id/layout.hpp"
#include "id/timefmt.hpp"
#include "support.hpp"

namespace {

using katsubushi::fuzz::check;
using namespace katsubushi::id;

// 0000-01-01T00:00:00.000Z and 9999-12-31T23:59:59.999Z: four-digit years.
constexpr std::int64_t kMinRfc3339Ms = -62'167'219'200'000;
constexpr std::int64_t kMaxRfc3339Ms = 253'402'300'799'999;

std::uint64_t take_u64(const std::uint8_t*& data, std::size_t& size) {
  std::uint64_t v = 0;
  const std::size_t n = size < 8 ? size : 8;
  std::memcpy(&v, data, n);
  data += n;
  size -= n;
  return v;
}

void check_id(std::uint64_t raw) {
  const std::uint64_t x = raw & ~(std::uint64_t{1} << 63);
  const IdParts p = decode(x);
  check(encode(p) == x);
  check(p.timestamp_ms >= 0 && p.timestamp_ms <= kMaxTimestamp);
  check(p.worker_id <= kMaxWorkerId && p.sequence <= kMaxSequence);

  // Parts inside their fields survive encode -> decode.
  const IdParts in_range{
      .timestamp_ms = static_cast<std::int64_t>(raw % (static_cast<std::uint64_t>(kMaxTimestamp) + 1)),
      .worker_id = static_cast<std::uint32_t>((raw >> 7) % (kMaxWorkerId + 1)),
      .sequence = static_cast<std::uint32_t>((raw >> 29) % kSequencePerMs),
  };
  check(decode(encode(in_range)) == in_range);
  check((encode(in_range) >> 63) == 0);
}

void check_order(std::uint64_t a, std::uint64_t b) {
  a &= ~(std::uint64_t{1} << 63);
  b &= ~(std::uint64_t{1} << 63);
  const IdParts pa = decode(a);
  const IdParts pb = decode(b);
  // Time-ordered ids: comparing (time, worker, sequence) is comparing the ids.
  check((std::tie(pa.timestamp_ms, pa.worker_id, pa.sequence) <
         std::tie(pb.timestamp_ms, pb.worker_id, pb.sequence)) == (a < b));
}

void check_time(std::uint64_t raw) {
  const std::uint64_t span = static_cast<std::uint64_t>(kMaxRfc3339Ms - kMinRfc3339Ms) + 1;
  const std::int64_t ms = kMinRfc3339Ms + static_cast<std::int64_t>(raw % span);
  const std::string text = format_rfc3339_ms(ms);
  check(text.size() == 24);
  const auto back = parse_rfc3339_ms(text);
  check(back.has_value() && *back == ms);

  // Every id's time is inside the range and formats the same way.
  const std::int64_t id_ms = kEpochUnixMs + decode(raw & ~(std::uint64_t{1} << 63)).timestamp_ms;
  const auto id_back = parse_rfc3339_ms(format_rfc3339_ms(id_ms));
  check(id_back.has_value() && *id_back == id_ms);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  // The raw text first: the parser must not read outside it, whatever it is.
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  if (const auto ms = parse_rfc3339_ms(text); ms && *ms >= kMinRfc3339Ms && *ms <= kMaxRfc3339Ms) {
    const auto again = parse_rfc3339_ms(format_rfc3339_ms(*ms));
    check(again.has_value() && *again == *ms);
  }

  std::uint64_t previous = 0;
  for (bool first = true; size > 0; first = false) {
    const std::uint64_t raw = take_u64(data, size);
    check_id(raw);
    check_time(raw);
    if (!first) check_order(previous, raw);
    previous = raw;
  }
  return 0;
}
