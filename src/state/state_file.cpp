#include "state/state_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <charconv>
#include <system_error>

#include "id/layout.hpp"
#include "id/timefmt.hpp"

namespace katsubushi::state {

namespace {

constexpr std::string_view kVersionPrefix = "katsubushi-state ";
constexpr std::string_view kVersionLine = "katsubushi-state 1\n";
constexpr std::string_view kGraceful = "graceful";
constexpr std::string_view kReservation = "reservation";
constexpr std::string_view kCountKey = "worker_id_count ";

[[noreturn]] void refuse(const std::string& why) { throw StateFileError(why); }

[[noreturn]] void refuse_file(const std::string& path, const std::string& why) {
  refuse("state file " + path + ": " + why);
}

// Thread-safe, unlike strerror: the reservation writer runs on its own thread.
std::string errno_text(int err) { return std::error_code(err, std::generic_category()).message(); }

std::string hex8(std::uint32_t v) {
  constexpr std::string_view kDigits = "0123456789abcdef";
  std::string out(8, '0');
  for (std::size_t i = 8; i-- > 0; v >>= 4) out[i] = kDigits[v & 0xFu];
  return out;
}

// "5" for one worker id, "5..8" for four.
std::string range_of(std::uint32_t worker, std::uint32_t count) {
  if (count == 1) return std::to_string(worker);
  return std::to_string(worker) + ".." + std::to_string(worker + count - 1);
}

std::string rfc3339_of(std::int64_t mark_ms) {
  return id::format_rfc3339_ms(mark_ms + id::kEpochUnixMs);
}

// Everything the checksum covers.
std::string body_of(const StateRecord& r) {
  std::string out(kVersionLine);
  out.append("worker_id ").append(std::to_string(r.worker_id)).append("\n");
  if (r.worker_id_count != 1) {
    out.append("worker_id_count ").append(std::to_string(r.worker_id_count)).append("\n");
  }
  out.append("mark_ms ").append(std::to_string(r.mark_ms)).append("\n");
  out.append("mark ").append(rfc3339_of(r.mark_ms)).append("\n");
  out.append("kind ").append(r.graceful ? kGraceful : kReservation).append("\n");
  return out;
}

// `text` in double quotes for a message, at most 40 bytes of it, with control
// and non-ASCII bytes escaped: a stray "\r" should show, and nothing from a
// damaged file should reach a log raw.
std::string quoted(std::string_view text) {
  constexpr std::size_t kShown = 40;
  constexpr std::string_view kHex = "0123456789abcdef";
  std::string out = "\"";
  for (const char ch : text.substr(0, kShown)) {
    const auto byte = static_cast<unsigned char>(ch);
    if (ch == '\r') {
      out += "\\r";
    } else if (ch == '"' || ch == '\\') {
      out.append(1, '\\').append(1, ch);
    } else if (byte < 0x20 || byte > 0x7e) {
      out.append("\\x").append(1, kHex[byte >> 4]).append(1, kHex[byte & 0xFu]);
    } else {
      out += ch;
    }
  }
  out += text.size() > kShown ? "\"..." : "\"";
  return out;
}

// Reads the line "KEY VALUE\n" at `pos` and moves past it; returns VALUE.
std::string_view take_line(std::string_view bytes, std::size_t& pos, std::string_view key) {
  const std::string_view rest = bytes.substr(pos);
  const std::size_t eol = rest.find('\n');
  if (eol == std::string_view::npos) {
    refuse("truncated: the line \"" + std::string(key) + " ...\" is " +
           (rest.empty() ? "missing" : "cut short"));
  }
  const std::string_view line = rest.substr(0, eol);
  if (!line.starts_with(key) || line.size() == key.size() || line[key.size()] != ' ') {
    refuse("expected the line \"" + std::string(key) + " ...\" at byte " + std::to_string(pos) +
           ", found " + quoted(line));
  }
  pos += eol + 1;
  return line.substr(key.size() + 1);
}

[[noreturn]] void bad_field(std::string_view key, std::string_view text, const std::string& why) {
  refuse("bad " + std::string(key) + " " + quoted(text) + ": " + why);
}

// A decimal without sign or leading zeros, at most `max`.
std::uint64_t decimal(std::string_view text, std::uint64_t max, std::string_view key) {
  if (text.empty()) bad_field(key, text, "empty");
  if (text[0] < '0' || text[0] > '9') bad_field(key, text, "not a decimal number");
  if (text.size() > 1 && text[0] == '0') bad_field(key, text, "a leading zero");
  std::uint64_t v = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec == std::errc::result_out_of_range) bad_field(key, text, "too large");
  if (ec != std::errc{} || end != text.data() + text.size()) {
    bad_field(key, text, "not a decimal number");
  }
  if (v > max) bad_field(key, text, "above " + std::to_string(max));
  return v;
}

void check_version_line(std::string_view bytes) {
  if (bytes.starts_with(kVersionLine)) return;
  if (kVersionLine.starts_with(bytes)) refuse("truncated in its first line");
  if (bytes.starts_with(kVersionPrefix)) {
    refuse("unknown version " + quoted(bytes.substr(0, bytes.find('\n'))) +
           " (this daemon reads version 1)");
  }
  refuse("not a katsubushi state file (it does not begin \"katsubushi-state 1\")");
}

}  // namespace

std::uint32_t crc32c(std::string_view bytes) noexcept {
  // Bitwise: a hundred-odd bytes about once a second needs no table.
  std::uint32_t crc = 0xFFFFFFFFu;
  for (const char ch : bytes) {
    crc ^= static_cast<unsigned char>(ch);
    for (int bit = 0; bit < 8; ++bit) {
      crc = (crc >> 1) ^ (0x82F63B78u & (0u - (crc & 1u)));
    }
  }
  return ~crc;
}

std::string serialize(const StateRecord& record) {
  if (record.worker_id > id::kMaxWorkerId) {
    refuse("worker id " + std::to_string(record.worker_id) + " is above " +
           std::to_string(id::kMaxWorkerId));
  }
  if (record.worker_id_count == 0 ||
      std::uint64_t{record.worker_id} + record.worker_id_count - 1 > id::kMaxWorkerId) {
    refuse("worker ids " + range_of(record.worker_id, record.worker_id_count) + " pass " +
           std::to_string(id::kMaxWorkerId));
  }
  if (record.mark_ms < 0 || record.mark_ms > id::kMaxTimestamp) {
    refuse("mark_ms " + std::to_string(record.mark_ms) + " is outside 0.." +
           std::to_string(id::kMaxTimestamp));
  }
  std::string out = body_of(record);
  const std::uint32_t crc = crc32c(out);
  out.append("crc32c ").append(hex8(crc)).append("\n");
  return out;
}

StateRecord parse(std::string_view bytes) {
  if (bytes.empty()) refuse("empty");
  check_version_line(bytes);

  // Shape first, then the checksum, then the values: damage anywhere is
  // reported as damage, not as whatever field it happened to hit.
  std::size_t pos = kVersionLine.size();
  const std::string_view worker_text = take_line(bytes, pos, "worker_id");
  // Only where a daemon holds several (-worker-id-count): version 1 files
  // of one worker id are read and written as before.
  std::string_view count_text = "1";
  if (bytes.substr(pos).starts_with(kCountKey)) count_text = take_line(bytes, pos, "worker_id_count");
  const std::string_view mark_ms_text = take_line(bytes, pos, "mark_ms");
  const std::string_view mark_text = take_line(bytes, pos, "mark");
  const std::string_view kind = take_line(bytes, pos, "kind");
  const std::size_t body_end = pos;
  const std::string_view crc_text = take_line(bytes, pos, "crc32c");
  if (pos != bytes.size()) {
    refuse(std::to_string(bytes.size() - pos) + " bytes after the checksum line");
  }
  const std::string expected_crc = hex8(crc32c(bytes.substr(0, body_end)));
  if (crc_text != expected_crc) {
    refuse("bad checksum: the file says " + quoted(crc_text) + ", its content gives " +
           expected_crc + " (damaged, or edited by hand)");
  }

  StateRecord r;
  r.worker_id = static_cast<std::uint32_t>(decimal(worker_text, id::kMaxWorkerId, "worker_id"));
  r.worker_id_count =
      static_cast<std::uint32_t>(decimal(count_text, id::kMaxWorkerId, "worker_id_count"));
  r.mark_ms = static_cast<std::int64_t>(
      decimal(mark_ms_text, static_cast<std::uint64_t>(id::kMaxTimestamp), "mark_ms"));
  if (const std::string readable = rfc3339_of(r.mark_ms); mark_text != readable) {
    bad_field("mark", mark_text, "mark_ms " + std::string(mark_ms_text) + " is " + readable);
  }
  if (kind == kGraceful) {
    r.graceful = true;
  } else if (kind != kReservation) {
    bad_field("kind", kind, "neither reservation nor graceful");
  }
  // Every line above was checked for its one spelling; this holds by
  // construction, and keeps the format canonical if a check is ever loosened.
  if (serialize(r) != bytes) refuse("not in canonical form");
  return r;
}

std::optional<StateRecord> read_state_file(const std::string& path) {
  // O_NONBLOCK: a FIFO put in its place is refused below instead of hanging
  // the start. It changes nothing for a regular file.
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) {
    const int err = errno;
    if (err == ENOENT) return std::nullopt;
    refuse_file(path, "cannot open: " + errno_text(err));
  }
  struct stat st {};
  int err = 0;
  std::string bytes;
  if (::fstat(fd, &st) != 0) {
    err = errno;
  } else if (S_ISREG(st.st_mode)) {
    // One byte over the cap is enough to know the file is too long.
    std::array<char, kMaxStateFileBytes + 1> buf{};
    while (bytes.size() < buf.size()) {
      const ssize_t n = ::read(fd, buf.data(), buf.size() - bytes.size());
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        err = errno;
        break;
      }
      if (n == 0) break;
      bytes.append(buf.data(), static_cast<std::size_t>(n));
    }
  }
  ::close(fd);  // read-only: nothing to lose
  if (err != 0) refuse_file(path, "cannot read: " + errno_text(err));
  if (S_ISDIR(st.st_mode)) refuse_file(path, "cannot read: " + errno_text(EISDIR));
  if (!S_ISREG(st.st_mode)) refuse_file(path, "not a regular file");
  if (bytes.empty()) refuse_file(path, "empty");
  if (bytes.size() > kMaxStateFileBytes) {
    refuse_file(path, "longer than " + std::to_string(kMaxStateFileBytes) +
                          " bytes, so not a katsubushi state file");
  }
  try {
    return parse(bytes);
  } catch (const StateFileError& e) {
    refuse_file(path, std::string("unusable: ") + e.what() +
                          "; which ids were issued before cannot be known: move it away only "
                          "knowing the clock is past every id issued");
  }
}

void write_state_file(const std::string& path, const StateRecord& record) {
  const std::string bytes = serialize(record);
  const std::string tmp = path + ".tmp";

  const int fd = ::open(tmp.c_str(), O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0644);
  if (fd < 0) {
    const int err = errno;
    refuse_file(path, "cannot create " + tmp + ": " + errno_text(err));
  }
  // Until the rename, a failure leaves only the temporary file behind: take
  // it away too, so that nothing but PATH is ever left.
  const auto fail_tmp = [&](const std::string& step, int err) {
    ::unlink(tmp.c_str());
    refuse_file(path, step + ": " + errno_text(err));
  };
  std::size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n > 0) {
      done += static_cast<std::size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    const int err = n < 0 ? errno : EIO;  // 0 bytes written: never for a regular file
    ::close(fd);
    fail_tmp("cannot write " + tmp, err);
  }
  if (::fsync(fd) != 0) {
    const int err = errno;
    ::close(fd);
    fail_tmp("cannot fsync " + tmp, err);
  }
  // close() may report a delayed write error (NFS); the descriptor is gone either way.
  if (::close(fd) != 0) fail_tmp("cannot close " + tmp, errno);
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    fail_tmp("cannot rename " + tmp + " over it", errno);
  }

  // The rename is durable once the directory holding it is.
  const std::size_t slash = path.rfind('/');
  const std::string dir = slash == std::string::npos ? "."
                          : slash == 0               ? "/"
                                                     : path.substr(0, slash);
  const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0) {
    const int err = errno;
    refuse_file(path, "cannot open its directory " + dir + " to fsync: " + errno_text(err));
  }
  if (::fsync(dfd) != 0) {
    const int err = errno;
    ::close(dfd);
    refuse_file(path, "cannot fsync its directory " + dir + ": " + errno_text(err));
  }
  ::close(dfd);
}

void check_worker(const StateRecord& record, std::uint32_t worker_id, std::uint32_t count,
                  const std::string& path) {
  // The mark holds for any worker id; a file sharing none of ours is
  // another daemon's.
  const bool overlap = record.worker_id < worker_id + count &&
                       worker_id < record.worker_id + record.worker_id_count;
  if (!overlap) {
    const std::string theirs = range_of(record.worker_id, record.worker_id_count);
    refuse("state file " + path + " belongs to worker id" +
           (record.worker_id_count == 1 ? " " : "s ") + theirs + ", this daemon is worker id" +
           (count == 1 ? " " : "s ") + range_of(worker_id, count) +
           ": give this daemon its own state file (or -worker-id " +
           std::to_string(record.worker_id) + ")");
  }
}

}  // namespace katsubushi::state
