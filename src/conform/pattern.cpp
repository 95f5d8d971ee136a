#include "conform/pattern.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <utility>

namespace katsubushi::conform {

namespace {

// Largest {N*C} repetition: enough for any line limit a server may have.
constexpr std::size_t kMaxRepeat = std::size_t{16} * 1024 * 1024;
// The most digits a uint64 has.
constexpr std::size_t kMaxIdDigits = 20;
constexpr std::uint64_t kBit63 = std::uint64_t{1} << 63;
// A mismatch this far into a literal is shown from the literal's start.
constexpr std::size_t kLiteralContext = 16;

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_lower(char c) { return c >= 'a' && c <= 'z'; }

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// One escape starting at text[i] == '\\'; sets `used` to its length.
bool decode_escape(std::string_view text, std::size_t i, char& out, std::size_t& used,
                   std::string& error) {
  if (i + 1 >= text.size()) {
    error = "a lone \\ at the end";
    return false;
  }
  used = 2;
  switch (text[i + 1]) {
    case 'r':
      out = '\r';
      return true;
    case 'n':
      out = '\n';
      return true;
    case 't':
      out = '\t';
      return true;
    case '0':
      out = '\0';
      return true;
    case '\\':
    case '{':
    case '}':
      out = text[i + 1];
      return true;
    case 'x': {
      const int hi = i + 2 < text.size() ? hex_value(text[i + 2]) : -1;
      const int lo = i + 3 < text.size() ? hex_value(text[i + 3]) : -1;
      if (hi < 0 || lo < 0) {
        error = "\\x needs two hex digits";
        return false;
      }
      out = static_cast<char>(hi * 16 + lo);
      used = 4;
      return true;
    }
    default:
      error = std::string("unknown escape \\") + text[i + 1];
      return false;
  }
}

struct PlaceholderName {
  std::string_view name;
  ElementKind kind;
};

constexpr std::array<PlaceholderName, 8> kPlaceholders{{
    {"id", ElementKind::id},
    {"id-len", ElementKind::id_len},
    {"cas", ElementKind::cas},
    {"num", ElementKind::num},
    {"any", ElementKind::any},
    {"error", ElementKind::error},
    {"stat-lines", ElementKind::stat_lines},
    {"ws", ElementKind::ws},
}};

std::string_view placeholder_name(ElementKind kind) {
  for (const auto& p : kPlaceholders) {
    if (p.kind == kind) return p.name;
  }
  return "literal";
}

// {N*C}: N copies of C.
bool parse_repeat(std::string_view inner, std::string& out, std::string& error) {
  const std::size_t star = inner.find('*');
  std::size_t count = 0;
  const auto [end, ec] = std::from_chars(inner.data(), inner.data() + star, count);
  if (ec != std::errc() || end != inner.data() + star || count > kMaxRepeat) {
    error = "bad repetition {" + std::string(inner) + "}: want {N*C}, N up to " +
            std::to_string(kMaxRepeat);
    return false;
  }
  const std::string_view what = inner.substr(star + 1);
  char c = 0;
  if (what.size() == 1 && what[0] != '\\') {
    c = what[0];
  } else {
    std::size_t used = 0;
    if (what.empty() || what[0] != '\\' || !decode_escape(what, 0, c, used, error) ||
        used != what.size()) {
      if (error.empty()) error = "bad repetition {" + std::string(inner) + "}: C is one character";
      return false;
    }
  }
  out.append(count, c);
  return true;
}

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

bool Pattern::is_literal() const {
  return std::all_of(elements.begin(), elements.end(),
                     [](const Element& e) { return e.kind == ElementKind::literal; });
}

std::string Pattern::literal_bytes() const {
  std::string out;
  for (const Element& e : elements) out += e.bytes;
  return out;
}

bool parse_pattern(std::string_view text, Pattern& out, std::string& error) {
  out.elements.clear();
  std::string lit;
  const auto flush = [&] {
    if (!lit.empty()) out.elements.push_back({ElementKind::literal, std::exchange(lit, {})});
  };
  std::size_t i = 0;
  while (i < text.size()) {
    const char c = text[i];
    if (c == '\\') {
      char decoded = 0;
      std::size_t used = 0;
      if (!decode_escape(text, i, decoded, used, error)) return false;
      lit += decoded;
      i += used;
      continue;
    }
    if (c != '{' || i + 1 >= text.size() || !(is_lower(text[i + 1]) || is_digit(text[i + 1]))) {
      lit += c;
      ++i;
      continue;
    }
    const std::size_t close = text.find('}', i + 1);
    if (close == std::string_view::npos) {
      error = "unclosed placeholder \"" + std::string(text.substr(i, 24)) + "\"";
      return false;
    }
    const std::string_view inner = text.substr(i + 1, close - i - 1);
    i = close + 1;
    if (is_digit(inner[0])) {
      if (inner.find('*') == std::string_view::npos) {
        error = "unknown placeholder {" + std::string(inner) + "}";
        return false;
      }
      if (!parse_repeat(inner, lit, error)) return false;
      continue;
    }
    const auto* known = std::find_if(kPlaceholders.begin(), kPlaceholders.end(),
                                     [&](const PlaceholderName& p) { return p.name == inner; });
    if (known == kPlaceholders.end()) {
      error = "unknown placeholder {" + std::string(inner) + "}";
      return false;
    }
    flush();
    out.elements.push_back({known->kind, {}});
  }
  flush();
  // {id-len} and {cas} describe the next {id}: there must be one.
  bool waiting = false;
  for (const Element& e : out.elements) {
    if (e.kind == ElementKind::id_len || e.kind == ElementKind::cas) waiting = true;
    if (e.kind == ElementKind::id) waiting = false;
  }
  if (waiting) {
    error = "{id-len} or {cas} without an {id} after it";
    return false;
  }
  return true;
}

bool decode_text(std::string_view text, std::string& out, std::string& error) {
  Pattern pattern;
  if (!parse_pattern(text, pattern, error)) return false;
  if (!pattern.is_literal()) {
    error = "placeholders are for replies; a request is literal bytes";
    return false;
  }
  out = pattern.literal_bytes();
  return true;
}

bool decode_hex(std::string_view text, std::string& out, std::string& error) {
  out.clear();
  int high = -1;
  for (const char c : text) {
    if (c == ' ' || c == '\t') {
      if (high >= 0) {
        error = "hex digits come in pairs";
        return false;
      }
      continue;
    }
    const int v = hex_value(c);
    if (v < 0) {
      error = std::string("not a hex digit: ") + c;
      return false;
    }
    if (high < 0) {
      high = v;
    } else {
      out += static_cast<char>(high * 16 + v);
      high = -1;
    }
  }
  if (high >= 0) {
    error = "an odd number of hex digits";
    return false;
  }
  return true;
}

std::string printable(std::string_view bytes, std::size_t max) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  const std::size_t n = std::min(bytes.size(), max);
  for (std::size_t i = 0; i < n; ++i) {
    const auto c = static_cast<unsigned char>(bytes[i]);
    switch (c) {
      case '\r':
        out += "\\r";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\\':
        out += "\\\\";
        break;
      default:
        if (c >= 0x20 && c < 0x7f) {
          out += static_cast<char>(c);
        } else {
          out += "\\x";
          out += kHex[c >> 4];
          out += kHex[c & 0xf];
        }
    }
  }
  if (bytes.size() > max) out += "...";
  return out;
}

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
