// One memcached text-protocol request line, parsed without copying: every
// string_view points into the line the parser was given.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

namespace katsubushi::proto {

inline constexpr std::size_t kMaxKeyBytes = 250;  // memcached's KEY_MAX_LENGTH
// Arguments kept after a stats group: `stats cachedump <id> <limit>` has the
// most; later tokens are ignored, as memcached ignores them.
inline constexpr std::size_t kMaxStatsArgs = 2;

enum class TextCommandKind {
  empty,       // a line of nothing but separators: ERROR
  unknown,     // not a command we know: ERROR
  bad_format,  // a known command with malformed arguments: CLIENT_ERROR
  get,
  gets,
  stats,
  version,
  verbosity,
  quit,
  storage,     // set/add/replace/append/prepend/cas: the data block is swallowed
  meta,        // mg/mn/ms/md/ma/me: the line is for parse_meta_line (meta_command.hpp)
};

struct TextCommand {
  TextCommandKind kind = TextCommandKind::empty;
  // get, gets: the line from its first key to its end, and how many keys it
  // holds (split them with TextTokenizer). No vector: a 16 MiB line of keys
  // costs no memory of its own, and is answered a slice at a time.
  std::string_view keys;
  std::size_t key_count = 0;
  std::string_view stats_group;        // stats: "" or "settings" etc.
  std::array<std::string_view, kMaxStatsArgs> stats_args{};  // stats: tokens after the group
  std::size_t stats_nargs = 0;
  std::uint64_t data_bytes = 0;        // storage: announced block size, without "\r\n"
  bool noreply = false;                // storage, verbosity
};


// The keys of a get, split (tests and tools; the session walks them in place).
std::vector<std::string_view> split_keys(std::string_view keys);

// Whether a request line's first token names a get ("get" or "gets", any
// case): what parse_text_line() and the session's scan ahead both ask.
bool is_get_name(std::string_view name) noexcept;

// memcached's key rule: 1..250 bytes, no control bytes, no space and no DEL.
bool valid_key(std::string_view key) noexcept;

// A get's keys, counted and checked against valid_key() in one pass, eight
// bytes at a time where they hold nothing but key bytes and spaces: a 2 M-key
// line (15 MB) is scanned in a few milliseconds instead of twenty, which is
// time the thread's other connections wait. The same tokens as
// TextTokenizer; the bytes may be fed in pieces (the result is the same).
class GetKeyScan {
 public:
  void feed(std::string_view bytes) noexcept;
  std::size_t count() const noexcept { return count_; }
  bool all_valid() const noexcept { return valid_; }

 private:
  void feed_byte(unsigned char c) noexcept;
  void feed_word(std::uint64_t word) noexcept;

  std::size_t count_ = 0;
  std::size_t run_ = 0;  // bytes of the key in progress, 0 after a separator
  bool valid_ = true;
};

// A get line's keys scanned while the line was still arriving: `scan` has
// seen the line's bytes from `keys_from` (where its keys begin: just after
// the command name) up to `upto`.
struct KeysScannedAhead {
  std::size_t keys_from = 0;
  std::size_t upto = 0;
  GetKeyScan scan;
};

// Parses one request line (without its "\n" or "\r\n"). `out` is reset and
// reused so a connection's steady state allocates nothing. Never throws,
// never reads outside `line`. With `ahead` (the same line's keys, scanned as
// it arrived), a get's keys are scanned only from where that scan stopped.
void parse_text_line(std::string_view line, TextCommand& out,
                     const KeysScannedAhead* ahead = nullptr);

}  // namespace katsubushi::proto
