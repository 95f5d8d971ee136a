// The state file (-state-file): the reserved-until mark on disk, so that a
// restart, even after a crash and with the clock set back, never issues an id
// at or below one issued before.
//
// Six lines of text an operator can read with cat, each ending in "\n":
//
//   katsubushi-state 1
//   worker_id 5
//   mark_ms 315532800000
//   mark 2024-12-31T00:00:00.000Z
//   kind reservation
//   crc32c 90aab44f
//
// A daemon holding several worker ids (-worker-id-count N > 1) writes
// "worker_id_count N" right after worker_id; with one, the line is absent.
// mark_ms counts milliseconds since the id epoch (2015-01-01), and `mark`
// says the same in RFC 3339. kind is `reservation` (ids were issued only
// below the mark) or `graceful` (the mark is the exact last timestamp issued,
// written at a clean stop). crc32c is CRC-32C (Castagnoli) over every byte
// before its line, in eight lower-case hex digits. The format is canonical:
// one spelling per record (keys in this order, decimals without sign or
// leading zeros, nothing after the last "\n"), so a file truncated at any
// byte or with any single byte changed is refused.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

namespace katsubushi::state {

struct StateRecord {
  std::uint32_t worker_id = 0;  // 0..1023 (0: a leased daemon before its first lease)
  std::int64_t mark_ms = 0;     // ms since the id epoch, 0..id::kMaxTimestamp
  bool graceful = false;        // true: the exact last timestamp issued, at a clean stop
  // worker_id..worker_id+count-1 (-worker-id-count); its line is written only when not 1.
  std::uint32_t worker_id_count = 1;

  friend bool operator==(const StateRecord&, const StateRecord&) = default;
};

// What is wrong with a state file, naming it when the file is known.
class StateFileError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The largest state file read (a real one is about 120 bytes); a longer file
// is refused as not ours.
inline constexpr std::size_t kMaxStateFileBytes = 4096;

// CRC-32C (Castagnoli, reflected, as in iSCSI and ext4): crc32c("123456789")
// is 0xe3069283.
std::uint32_t crc32c(std::string_view bytes) noexcept;

// The file's bytes. Throws StateFileError for a record no file can hold
// (worker id above 1023, mark outside 0..id::kMaxTimestamp).
std::string serialize(const StateRecord& record);

// The inverse of serialize(): accepts exactly the bytes serialize() gives.
// Throws StateFileError saying what is wrong (empty, truncated, unknown
// version, bad checksum, a bad or misplaced field, bytes after the end).
StateRecord parse(std::string_view bytes);

// nullopt when the file does not exist (ENOENT). Any other failure (not a
// regular file, unreadable, empty, longer than kMaxStateFileBytes, anything
// parse() refuses) throws StateFileError naming the path and the reason.
std::optional<StateRecord> read_state_file(const std::string& path);

// Writes PATH.tmp, fsyncs it, renames it over PATH and fsyncs the directory,
// so the file holds the old record or the new one, whole, even across a
// power cut. Throws StateFileError naming the path, the step and the system's
// reason; the temporary file is removed on failure. A missing directory is
// an error (nothing is created but the file).
void write_state_file(const std::string& path, const StateRecord& record);

// Throws StateFileError when the file belongs to other worker ids: it
// shares none of worker_id..worker_id+count-1.
void check_worker(const StateRecord& record, std::uint32_t worker_id, std::uint32_t count,
                  const std::string& path);

}  // namespace katsubushi::state
