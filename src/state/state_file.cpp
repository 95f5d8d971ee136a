#include "state/state_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>

#include "id/layout.hpp"
#include "id/timefmt.hpp"

namespace katsubushi::state {

namespace {

constexpr std::string_view kMagic = "katsubushi-state 1\n";

// CRC-32C (Castagnoli), bitwise: a few dozen bytes once a second.
std::uint32_t crc32c(std::string_view bytes) {
  std::uint32_t crc = 0xFFFFFFFFu;
  for (const char ch : bytes) {
    crc ^= static_cast<unsigned char>(ch);
    for (int bit = 0; bit < 8; ++bit) {
      crc = (crc >> 1) ^ (0x82F63B78u & (0u - (crc & 1u)));
    }
  }
  return ~crc;
}

std::string hex8(std::uint32_t v) {
  char buf[9];
  std::snprintf(buf, sizeof buf, "%08x", v);
  return buf;
}

std::string body_of(const StateRecord& r) {
  std::string out(kMagic);
  out += "worker_id " + std::to_string(r.worker_id) + "\n";
  out += "mark_ms " + std::to_string(r.mark_ms) + "\n";
  out += "mark " + id::format_rfc3339_ms(r.mark_ms + id::kEpochUnixMs) + "\n";
  out += r.graceful ? "kind graceful\n" : "kind reservation\n";
  return out;
}

[[noreturn]] void refuse(const std::string& why) { throw StateFileError(why); }

// Reads "KEY VALUE\n" at `pos`, returning VALUE and moving past the line.
std::string_view field(std::string_view bytes, std::size_t& pos, std::string_view key) {
  const std::string_view rest = bytes.substr(pos);
  const std::size_t eol = rest.find('\n');
  if (eol == std::string_view::npos) refuse("truncated: the line \"" + std::string(key) + "\" has no end");
  const std::string_view line = rest.substr(0, eol);
  if (line.size() <= key.size() || line.substr(0, key.size()) != key ||
      line[key.size()] != ' ') {
    refuse("expected the line \"" + std::string(key) + " ...\"");
  }
  pos += eol + 1;
  return line.substr(key.size() + 1);
}

// A decimal without sign or leading zeros, at most `max`.
std::uint64_t decimal(std::string_view text, std::uint64_t max, std::string_view key) {
  std::uint64_t v = 0;
  const bool canonical = !text.empty() && (text.size() == 1 || text[0] != '0');
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (!canonical || ec != std::errc{} || end != text.data() + text.size() || v > max) {
    refuse("bad " + std::string(key) + " \"" + std::string(text) + "\"");
  }
  return v;
}

std::string errno_text(int err) { return std::strerror(err); }  // NOLINT(concurrency-mt-unsafe)

}  // namespace

std::string serialize(const StateRecord& record) {
  std::string out = body_of(record);
  out += "crc32c " + hex8(crc32c(out)) + "\n";
  return out;
}

StateRecord parse(std::string_view bytes) {
  if (bytes.empty()) refuse("empty");
  if (bytes.substr(0, kMagic.size()) != kMagic) {
    if (kMagic.substr(0, bytes.size()) == bytes) refuse("truncated in its first line");
    if (bytes.substr(0, 17) == "katsubushi-state ") refuse("unknown version");
    refuse("not a katsubushi state file");
  }
  std::size_t pos = kMagic.size();
  StateRecord r;
  r.worker_id = static_cast<std::uint32_t>(
      decimal(field(bytes, pos, "worker_id"), id::kMaxWorkerId, "worker_id"));
  r.mark_ms = static_cast<std::int64_t>(decimal(
      field(bytes, pos, "mark_ms"), static_cast<std::uint64_t>(id::kMaxTimestamp), "mark_ms"));
  const std::string_view mark = field(bytes, pos, "mark");
  const std::string_view kind = field(bytes, pos, "kind");
  if (kind == "graceful") {
    r.graceful = true;
  } else if (kind != "reservation") {
    refuse("bad kind \"" + std::string(kind) + "\"");
  }
  const std::size_t body_end = pos;
  const std::string_view crc = field(bytes, pos, "crc32c");
  if (pos != bytes.size()) refuse("bytes after the checksum line");
  if (crc != hex8(crc32c(bytes.substr(0, body_end)))) refuse("bad checksum");
  // The checksum holds, so this is a write of ours: still, the two spellings
  // of the mark must agree, and the whole must be the one canonical form.
  if (mark != id::format_rfc3339_ms(r.mark_ms + id::kEpochUnixMs)) {
    refuse("mark and mark_ms disagree");
  }
  if (serialize(r) != bytes) refuse("not in canonical form");
  return r;
}

std::optional<StateRecord> read_state_file(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    const int err = errno;
    if (err == ENOENT) return std::nullopt;
    refuse("state file " + path + ": cannot open: " + errno_text(err));
  }
  std::string bytes;
  char buf[1024];
  int read_error = 0;
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      read_error = errno;
      break;
    }
    if (n == 0) break;
    bytes.append(buf, static_cast<std::size_t>(n));
    if (bytes.size() > kMaxStateFileBytes) break;
  }
  ::close(fd);
  if (read_error != 0) refuse("state file " + path + ": cannot read: " + errno_text(read_error));
  if (bytes.size() > kMaxStateFileBytes) {
    refuse("state file " + path + ": longer than " + std::to_string(kMaxStateFileBytes) +
           " bytes, not a katsubushi state file");
  }
  try {
    return parse(bytes);
  } catch (const StateFileError& e) {
    refuse("state file " + path + " is unusable (" + e.what() +
           "); ids issued before cannot be proved; see the README's Restarts section");
  }
}

void write_state_file(const std::string& path, const StateRecord& record) {
  const std::string tmp = path + ".tmp";
  const std::string bytes = serialize(record);
  const auto fail = [&](const std::string& step, int err) {
    ::unlink(tmp.c_str());
    refuse("state file " + path + ": " + step + ": " + errno_text(err));
  };
  const int fd = ::open(tmp.c_str(), O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0644);
  if (fd < 0) {
    const int err = errno;
    refuse("state file " + path + ": cannot create " + tmp + ": " + errno_text(err));
  }
  std::size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      ::close(fd);
      fail("write", err);
    }
    done += static_cast<std::size_t>(n);
  }
  if (::fsync(fd) != 0) {
    const int err = errno;
    ::close(fd);
    fail("fsync", err);
  }
  if (::close(fd) != 0) fail("close", errno);
  if (::rename(tmp.c_str(), path.c_str()) != 0) fail("rename", errno);
  // The rename is durable once the directory is.
  const std::size_t slash = path.rfind('/');
  const std::string dir = slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
  const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0) refuse("state file " + path + ": cannot open its directory: " + errno_text(errno));
  const int synced = ::fsync(dfd);
  const int err = errno;
  ::close(dfd);
  if (synced != 0) refuse("state file " + path + ": fsync of its directory: " + errno_text(err));
}

void check_worker(const StateRecord& record, std::uint32_t worker_id, const std::string& path) {
  if (record.worker_id != worker_id) {
    refuse("state file " + path + " belongs to worker id " + std::to_string(record.worker_id) +
           ", this daemon is worker id " + std::to_string(worker_id) +
           ": use the file of this worker id, or move that one away to start afresh");
  }
}

}  // namespace katsubushi::state
