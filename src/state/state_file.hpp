// The state file (-state-file): the reserved-until mark on disk, so that a
// restart, even after a crash and with the clock set back, never issues an id
// at or below one issued before.
//
// Five lines of text an operator can read with cat, each ending in "\n":
//
//   katsubushi-state 1
//   worker_id 5
//   mark_ms 315532800000
//   mark 2024-12-31T00:00:00.000Z
//   kind reservation
//   crc32c 1a2b3c4d
//
// mark_ms counts milliseconds since the id epoch (2015-01-01), and `mark`
// says the same in RFC 3339. kind is `reservation` (ids were issued only
// below the mark) or `graceful` (the mark is the exact last timestamp issued,
// written at a clean stop). crc32c covers every byte before its line. The
// format is canonical: one spelling per record, so a file truncated at any
// byte or with any byte changed is refused.
#pragma once

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

namespace katsubushi::state {

struct StateRecord {
  std::uint32_t worker_id = 0;
  std::int64_t mark_ms = 0;  // ms since the id epoch
  bool graceful = false;

  friend bool operator==(const StateRecord&, const StateRecord&) = default;
};

// What is wrong with a state file, naming it when the file is known.
class StateFileError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The largest state file read; a longer file is refused as not ours.
inline constexpr std::size_t kMaxStateFileBytes = 4096;

std::string serialize(const StateRecord& record);

// Throws StateFileError saying what is wrong (truncated, bad checksum,
// unknown version, a field out of range or out of order).
StateRecord parse(std::string_view bytes);

// nullopt when the file does not exist. Any other failure to read it, and
// any content parse() refuses, throws StateFileError naming the path.
std::optional<StateRecord> read_state_file(const std::string& path);

// Writes PATH.tmp, fsyncs it, renames it over PATH and fsyncs the directory,
// so the file holds the old record or the new one, whole, even across a
// power cut. Throws StateFileError naming the step and the system's reason;
// the temporary file is removed on failure.
void write_state_file(const std::string& path, const StateRecord& record);

// Throws StateFileError when the file belongs to another worker id.
void check_worker(const StateRecord& record, std::uint32_t worker_id, const std::string& path);

}  // namespace katsubushi::state
