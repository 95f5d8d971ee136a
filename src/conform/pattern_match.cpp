#include "conform/pattern_match.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <utility>

namespace katsubushi::conform {

namespace {

// The most digits a uint64 has.
constexpr std::size_t kMaxIdDigits = 20;
constexpr std::uint64_t kBit63 = std::uint64_t{1} << 63;
// A mismatch this far into a literal is shown from the literal's start.
constexpr std::size_t kLiteralContext = 16;

bool is_digit(char c) { return c >= '0' && c <= '9'; }

bool starts_with(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

// What a mismatch message shows of the input from `at`.
std::string got_text(std::string_view input, std::size_t at) {
  if (at >= input.size()) return "the end of the reply";
  return "\"" + printable(input.substr(at), 48) + "\"";
}

class Matcher {
 public:
  Matcher(std::string_view input, bool complete) : in_(input), complete_(complete) {}

  MatchResult run(const Pattern& pattern) {
    for (const Element& e : pattern.elements) {
      if (!step(e)) return std::move(result_);
    }
    if (complete_ && pos_ != in_.size()) {
      fail(pos_, "expected the end, got " + got_text(in_, pos_));
      return std::move(result_);
    }
    result_.status = MatchStatus::matched;
    result_.consumed = pos_;
    return std::move(result_);
  }

 private:
  bool fail(std::size_t at, std::string detail) {
    result_.status = MatchStatus::mismatch;
    result_.at = at;
    result_.detail = std::move(detail);
    result_.ids.clear();
    return false;
  }
  // The input ended where `what` was expected.
  bool ended(std::size_t at, std::string_view what) {
    if (complete_) return fail(at, "expected " + std::string(what) + ", got the end");
    result_.status = MatchStatus::need_more;
    result_.at = at;
    result_.ids.clear();
    return false;
  }
  static std::string braced(ElementKind kind) {
    return "{" + std::string(placeholder_name(kind)) + "}";
  }

  bool step(const Element& e) {
    switch (e.kind) {
      case ElementKind::literal:
        return literal(e.bytes);
      case ElementKind::id:
        return id();
      case ElementKind::id_len:
      case ElementKind::cas:
      case ElementKind::num:
        return number(e.kind);
      case ElementKind::any:
        return any(braced(e.kind));
      case ElementKind::error:
        return error_line();
      case ElementKind::stat_lines:
        return stat_lines();
      case ElementKind::ws:
        return ws();
    }
    return false;
  }

  bool literal(std::string_view bytes) {
    const std::size_t avail = std::min(bytes.size(), in_.size() - pos_);
    for (std::size_t i = 0; i < avail; ++i) {
      if (in_[pos_ + i] != bytes[i]) {
        // Show both sides from the start of the literal unless the
        // difference is far into it.
        const std::size_t from = i < kLiteralContext ? 0 : i;
        return fail(pos_ + i, "expected \"" + printable(bytes.substr(from), 48) + "\", got " +
                                  got_text(in_, pos_ + from));
      }
    }
    if (avail < bytes.size()) {
      return ended(pos_ + avail, "\"" + printable(bytes.substr(avail), 48) + "\"");
    }
    pos_ += bytes.size();
    return true;
  }

  // Digits from pos_ (after an optional '-' when `sign`); false when the
  // input ended inside them and more could follow.
  bool digits(bool sign, std::size_t& len, std::string_view what) {
    std::size_t i = pos_;
    if (sign && i < in_.size() && in_[i] == '-') ++i;
    while (i < in_.size() && is_digit(in_[i])) ++i;
    if (i == in_.size() && !complete_) return ended(i, what);
    len = i - pos_;
    return true;
  }

  bool id() {
    std::size_t len = 0;
    if (!digits(false, len, "{id}")) return false;
    if (len == 0) return fail(pos_, "expected {id} (digits), got " + got_text(in_, pos_));
    std::uint64_t value = 0;
    std::string why;
    if (!parse_id(in_.substr(pos_, len), value, why)) return fail(pos_, why);
    for (const std::uint64_t n : pending_len_) {
      if (n != len) {
        return fail(pos_, "{id-len} said " + std::to_string(n) + " but the id " +
                              std::to_string(value) + " has " + std::to_string(len) + " digits");
      }
    }
    for (const std::uint64_t cas : pending_cas_) {
      if (cas != value) {
        return fail(pos_,
                    "{cas} " + std::to_string(cas) + " is not the id " + std::to_string(value));
      }
    }
    pending_len_.clear();
    pending_cas_.clear();
    result_.ids.push_back(value);
    pos_ += len;
    return true;
  }

  bool number(ElementKind kind) {
    const std::string what = braced(kind);
    std::size_t len = 0;
    if (!digits(kind == ElementKind::num, len, what)) return false;
    const std::string_view text = in_.substr(pos_, len);
    if (text.empty() || text == "-") {
      return fail(pos_, "expected " + what + " (digits), got " + got_text(in_, pos_));
    }
    if (kind != ElementKind::num) {
      std::uint64_t value = 0;
      const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
      if (ec != std::errc() || end != text.data() + text.size()) {
        return fail(pos_, what + " \"" + std::string(text) + "\" is not a uint64");
      }
      (kind == ElementKind::id_len ? pending_len_ : pending_cas_).push_back(value);
    }
    pos_ += len;
    return true;
  }

  bool any(std::string_view what) {
    std::size_t i = pos_;
    while (i < in_.size() && in_[i] != '\r' && in_[i] != '\n') ++i;
    if (i == in_.size() && !complete_) return ended(i, what);
    pos_ = i;
    return true;
  }

  bool error_line() {
    static constexpr std::array<std::string_view, 3> kKinds{"CLIENT_ERROR ", "SERVER_ERROR ",
                                                            "ERROR"};
    const std::string_view rest = in_.substr(pos_);
    bool could_be = false;
    for (const std::string_view kind : kKinds) {
      if (starts_with(rest, kind)) {
        pos_ += kind.size();
        return kind == "ERROR" || any("{error}");
      }
      could_be = could_be || (rest.size() < kind.size() && starts_with(kind, rest));
    }
    if (could_be) return ended(in_.size(), "{error}");
    return fail(
        pos_, "expected {error} (ERROR, CLIENT_ERROR or SERVER_ERROR), got " + got_text(in_, pos_));
  }

  bool stat_lines() {
    static constexpr std::string_view kStat = "STAT ";
    for (;;) {
      const std::string_view rest = in_.substr(pos_);
      if (rest.size() < kStat.size()) {
        if (!complete_ && starts_with(kStat, rest)) return ended(in_.size(), "{stat-lines}");
        return true;
      }
      if (!starts_with(rest, kStat)) return true;
      // A STAT line ends at its first '\n', right after its first '\r'.
      const std::size_t nl = rest.find('\n');
      const std::size_t cr = rest.find('\r');
      if (nl == std::string_view::npos) {
        if (cr != std::string_view::npos && cr + 1 != rest.size()) {
          return fail(pos_ + cr, "a STAT line must end in \\r\\n, got " + got_text(in_, pos_ + cr));
        }
        return ended(in_.size(), "the end of a STAT line");
      }
      if (cr != nl - 1) {
        const std::size_t bad = std::min(cr, nl);
        return fail(pos_ + bad, "a STAT line must end in \\r\\n, got " + got_text(in_, pos_ + bad));
      }
      pos_ += nl + 1;
    }
  }

  bool ws() {
    std::size_t i = pos_;
    while (i < in_.size() && (in_[i] == ' ' || in_[i] == '\t' || in_[i] == '\r' || in_[i] == '\n'))
      ++i;
    if (i == in_.size() && !complete_) return ended(i, "{ws}");
    pos_ = i;
    return true;
  }

  std::string_view in_;
  bool complete_;
  std::size_t pos_ = 0;
  MatchResult result_;
  std::vector<std::uint64_t> pending_len_;
  std::vector<std::uint64_t> pending_cas_;
};

}  // namespace

MatchResult match_pattern(const Pattern& pattern, std::string_view input, bool complete) {
  return Matcher(input, complete).run(pattern);
}

bool parse_id(std::string_view digits, std::uint64_t& id, std::string& error) {
  if (digits.empty() || digits.size() > kMaxIdDigits ||
      !std::all_of(digits.begin(), digits.end(), is_digit)) {
    error = "\"" + printable(digits, 24) + "\" is not a decimal id";
    return false;
  }
  const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), id);
  if (ec != std::errc() || end != digits.data() + digits.size()) {
    error = "the id " + std::string(digits) + " is not a uint64";
    return false;
  }
  if ((id & kBit63) != 0) {
    error = "the id " + std::string(digits) + " has bit 63 set";
    return false;
  }
  return true;
}

}  // namespace katsubushi::conform
