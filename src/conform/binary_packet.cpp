#include "conform/binary_packet.hpp"

#include <array>
#include <charconv>
#include <limits>

#include "conform/pattern_match.hpp"

namespace katsubushi::conform {

namespace {

std::uint64_t read_be(std::string_view bytes, std::size_t at, std::size_t n) {
  std::uint64_t v = 0;
  for (std::size_t i = 0; i < n; ++i) v = (v << 8) | static_cast<unsigned char>(bytes[at + i]);
  return v;
}

void write_be(std::string& out, std::uint64_t v, std::size_t n) {
  for (std::size_t i = n; i > 0; --i) out += static_cast<char>((v >> (8 * (i - 1))) & 0xff);
}

std::string hex(std::uint64_t v, std::size_t digits) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out(digits, '0');
  for (std::size_t i = digits; i > 0; --i, v >>= 4) out[i - 1] = kHex[v & 0xf];
  return out;
}

std::string hex_bytes(std::string_view bytes) {
  std::string out;
  for (const char c : bytes) out += hex(static_cast<unsigned char>(c), 2);
  return out;
}

// Every field name of send-bin, expect-bin and expect-bin-stats.
constexpr std::array<std::string_view, 14> kFieldNames{
    "magic",  "op",  "datatype", "vbucket", "status",  "opaque", "cas",
    "extras", "key", "keylen",   "extlen",  "bodylen", "value",  "first"};

// `name=value` fields separated by spaces; `value=` takes the rest of the line.
class FieldReader {
 public:
  explicit FieldReader(std::string_view text) : text_(text) {}
  bool next(std::string_view& name, std::string_view& value, std::string& error) {
    while (pos_ < text_.size() && text_[pos_] == ' ') ++pos_;
    if (pos_ >= text_.size()) return false;
    const std::size_t eq = text_.find('=', pos_);
    const std::size_t sp = text_.find(' ', pos_);
    if (eq == std::string_view::npos || (sp != std::string_view::npos && sp < eq)) {
      error = "expected name=value, got \"" + std::string(text_.substr(pos_, sp - pos_)) + "\"";
      pos_ = text_.size();
      return false;
    }
    name = text_.substr(pos_, eq - pos_);
    if (name == "value") {
      value = text_.substr(eq + 1);
      pos_ = text_.size();
      // A field written after value= would silently become part of it.
      for (const std::string_view field : kFieldNames) {
        if (value.find(" " + std::string(field) + "=") != std::string_view::npos) {
          error = "value= takes the rest of the line: write " + std::string(field) + "= before it";
          return false;
        }
      }
    } else {
      const std::size_t end = text_.find(' ', eq + 1);
      value = text_.substr(eq + 1, end == std::string_view::npos ? end : end - eq - 1);
      pos_ = end == std::string_view::npos ? text_.size() : end;
    }
    return true;
  }

 private:
  std::string_view text_;
  std::size_t pos_ = 0;
};

// Up to `digits` hex digits into an unsigned integer.
template <typename T>
bool parse_hex_field(std::string_view name, std::string_view text, std::size_t digits, T& out,
                     std::string& error) {
  std::uint64_t v = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v, 16);
  if (text.empty() || text.size() > digits || ec != std::errc() ||
      end != text.data() + text.size()) {
    error = std::string(name) + "= takes up to " + std::to_string(digits) + " hex digits, got \"" +
            std::string(text) + "\"";
    return false;
  }
  out = static_cast<T>(v);
  return true;
}

// A length override: decimal, or hex after 0x.
template <typename T>
bool parse_length_field(std::string_view name, std::string_view text, std::optional<T>& out,
                        std::string& error) {
  std::uint64_t v = 0;
  int base = 10;
  if (text.size() > 2 && text[0] == '0' && (text[1] == 'x' || text[1] == 'X')) {
    text.remove_prefix(2);
    base = 16;
  }
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v, base);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size() ||
      v > std::numeric_limits<T>::max()) {
    error = std::string(name) + "= takes a number up to " +
            std::to_string(std::numeric_limits<T>::max());
    return false;
  }
  out = static_cast<T>(v);
  return true;
}

bool parse_key(std::string_view text, std::string& out, std::string& error) {
  if (!decode_text(text, out, error)) {
    error = "key=: " + error;
    return false;
  }
  return true;
}

}  // namespace

PacketHeader decode_header(std::string_view bytes) {
  PacketHeader h;
  h.magic = static_cast<std::uint8_t>(bytes[0]);
  h.opcode = static_cast<std::uint8_t>(bytes[1]);
  h.keylen = static_cast<std::uint16_t>(read_be(bytes, 2, 2));
  h.extlen = static_cast<std::uint8_t>(bytes[4]);
  h.datatype = static_cast<std::uint8_t>(bytes[5]);
  h.status = static_cast<std::uint16_t>(read_be(bytes, 6, 2));
  h.bodylen = static_cast<std::uint32_t>(read_be(bytes, 8, 4));
  h.opaque = static_cast<std::uint32_t>(read_be(bytes, 12, 4));
  h.cas = read_be(bytes, 16, 8);
  return h;
}

std::string encode_header(const PacketHeader& h) {
  std::string out;
  out.reserve(kHeaderBytes);
  write_be(out, h.magic, 1);
  write_be(out, h.opcode, 1);
  write_be(out, h.keylen, 2);
  write_be(out, h.extlen, 1);
  write_be(out, h.datatype, 1);
  write_be(out, h.status, 2);
  write_be(out, h.bodylen, 4);
  write_be(out, h.opaque, 4);
  write_be(out, h.cas, 8);
  return out;
}

std::string encode_request(const RequestSpec& spec) {
  PacketHeader h = spec.header;
  h.keylen = spec.keylen.value_or(static_cast<std::uint16_t>(spec.key.size()));
  h.extlen = spec.extlen.value_or(static_cast<std::uint8_t>(spec.extras.size()));
  h.bodylen = spec.bodylen.value_or(
      static_cast<std::uint32_t>(spec.extras.size() + spec.key.size() + spec.value.size()));
  return encode_header(h) + spec.extras + spec.key + spec.value;
}

bool parse_request_fields(std::string_view text, RequestSpec& out, std::string& error) {
  error.clear();
  FieldReader fields(text);
  std::string_view name;
  std::string_view value;
  while (fields.next(name, value, error)) {
    bool ok = true;
    if (name == "magic") {
      ok = parse_hex_field(name, value, 2, out.header.magic, error);
    } else if (name == "op") {
      ok = parse_hex_field(name, value, 2, out.header.opcode, error);
    } else if (name == "datatype") {
      ok = parse_hex_field(name, value, 2, out.header.datatype, error);
    } else if (name == "vbucket") {
      ok = parse_hex_field(name, value, 4, out.header.status, error);
    } else if (name == "opaque") {
      ok = parse_hex_field(name, value, 8, out.header.opaque, error);
    } else if (name == "cas") {
      ok = parse_hex_field(name, value, 16, out.header.cas, error);
    } else if (name == "extras") {
      ok = decode_hex(value, out.extras, error);
    } else if (name == "key") {
      ok = parse_key(value, out.key, error);
    } else if (name == "value") {
      ok = decode_text(value, out.value, error);
    } else if (name == "keylen") {
      ok = parse_length_field(name, value, out.keylen, error);
    } else if (name == "extlen") {
      ok = parse_length_field(name, value, out.extlen, error);
    } else if (name == "bodylen") {
      ok = parse_length_field(name, value, out.bodylen, error);
    } else {
      error = "unknown field " + std::string(name) + "=";
      ok = false;
    }
    if (!ok) return false;
  }
  return error.empty();
}

FrameStatus frame_packet(std::string_view input, Packet& out, std::size_t& used,
                         std::string& error) {
  if (input.size() < kHeaderBytes) return FrameStatus::need_more;
  const PacketHeader h = decode_header(input);
  if (h.magic != kResponseMagic) {
    error = "magic 0x" + hex(h.magic, 2) + " where a reply (0x81) was expected";
    return FrameStatus::malformed;
  }
  if (std::uint64_t{h.keylen} + h.extlen > h.bodylen) {
    error = "keylen " + std::to_string(h.keylen) + " + extlen " + std::to_string(h.extlen) +
            " > bodylen " + std::to_string(h.bodylen);
    return FrameStatus::malformed;
  }
  if (h.bodylen > kMaxReplyBodyBytes) {
    error = "bodylen " + std::to_string(h.bodylen) + " is over the runner's limit";
    return FrameStatus::malformed;
  }
  if (input.size() < kHeaderBytes + h.bodylen) return FrameStatus::need_more;
  out.header = h;
  std::string_view body = input.substr(kHeaderBytes, h.bodylen);
  out.extras = body.substr(0, h.extlen);
  out.key = body.substr(h.extlen, h.keylen);
  out.value = body.substr(std::size_t{h.extlen} + h.keylen);
  used = kHeaderBytes + h.bodylen;
  return FrameStatus::packet;
}

bool parse_packet_fields(std::string_view text, PacketExpectation& out, std::string& error) {
  error.clear();
  FieldReader fields(text);
  std::string_view name;
  std::string_view value;
  while (fields.next(name, value, error)) {
    bool ok = true;
    if (name == "magic") {
      ok = parse_hex_field(name, value, 2, out.magic, error);
    } else if (name == "op") {
      out.opcode.emplace();
      ok = parse_hex_field(name, value, 2, *out.opcode, error);
    } else if (name == "datatype") {
      out.datatype.emplace();
      ok = parse_hex_field(name, value, 2, *out.datatype, error);
    } else if (name == "status") {
      out.status.emplace();
      ok = parse_hex_field(name, value, 4, *out.status, error);
    } else if (name == "opaque") {
      out.opaque.emplace();
      ok = parse_hex_field(name, value, 8, *out.opaque, error);
    } else if (name == "cas") {
      if (value == "{cas}") {
        out.cas_check = PacketExpectation::Cas::id;
      } else {
        out.cas_check = PacketExpectation::Cas::exact;
        ok = parse_hex_field(name, value, 16, out.cas, error);
      }
    } else if (name == "extras") {
      out.extras.emplace();
      ok = decode_hex(value, *out.extras, error);
    } else if (name == "key") {
      out.key.emplace();
      ok = parse_key(value, *out.key, error);
    } else if (name == "value") {
      out.value.emplace();
      ok = parse_pattern(value, *out.value, error);
    } else {
      error = "unknown field " + std::string(name) + "=";
      ok = false;
    }
    if (!ok) return false;
  }
  if (!error.empty()) return false;
  if (out.cas_check == PacketExpectation::Cas::id) {
    bool has_id = false;
    if (out.value) {
      for (const Element& e : out.value->elements) has_id = has_id || e.kind == ElementKind::id;
    }
    if (!has_id) {
      error = "cas={cas} needs an {id} in value=";
      return false;
    }
  }
  return true;
}

bool check_packet(const PacketExpectation& want, const Packet& got, std::vector<std::uint64_t>& ids,
                  std::string& error) {
  const PacketHeader& h = got.header;
  const auto differs = [&](std::string_view field, std::uint64_t expected, std::uint64_t actual,
                           std::size_t digits) {
    error =
        std::string(field) + " 0x" + hex(actual, digits) + ", expected 0x" + hex(expected, digits);
    return false;
  };
  if (h.magic != want.magic) return differs("magic", want.magic, h.magic, 2);
  if (want.opcode && h.opcode != *want.opcode) return differs("opcode", *want.opcode, h.opcode, 2);
  if (want.status && h.status != *want.status) return differs("status", *want.status, h.status, 4);
  if (want.datatype && h.datatype != *want.datatype) {
    return differs("datatype", *want.datatype, h.datatype, 2);
  }
  if (want.opaque && h.opaque != *want.opaque) return differs("opaque", *want.opaque, h.opaque, 8);
  if (want.cas_check == PacketExpectation::Cas::exact && h.cas != want.cas) {
    return differs("cas", want.cas, h.cas, 16);
  }
  if (want.extras && got.extras != *want.extras) {
    error = "extras " + hex_bytes(got.extras) + ", expected " + hex_bytes(*want.extras);
    return false;
  }
  if (want.key && got.key != *want.key) {
    error = "key \"" + printable(got.key) + "\", expected \"" + printable(*want.key) + "\"";
    return false;
  }
  std::vector<std::uint64_t> value_ids;
  if (want.value) {
    MatchResult m = match_pattern(*want.value, got.value, true);
    if (m.status != MatchStatus::matched) {
      error = "value \"" + printable(got.value) + "\": " + m.detail;
      return false;
    }
    value_ids = std::move(m.ids);
  }
  if (want.cas_check == PacketExpectation::Cas::id &&
      (value_ids.empty() || h.cas != value_ids.front())) {
    error = "cas " + std::to_string(h.cas) + " is not the id in the value \"" +
            printable(got.value) + "\"";
    return false;
  }
  ids.insert(ids.end(), value_ids.begin(), value_ids.end());
  return true;
}

bool parse_stats_fields(std::string_view text, StatsExpectation& out, std::string& error) {
  error.clear();
  FieldReader fields(text);
  std::string_view name;
  std::string_view value;
  while (fields.next(name, value, error)) {
    if (name == "opaque") {
      out.opaque.emplace();
      if (!parse_hex_field(name, value, 8, *out.opaque, error)) return false;
    } else if (name == "first") {
      std::size_t start = 0;
      while (start <= value.size()) {
        const std::size_t comma = value.find(',', start);
        const std::string_view item =
            value.substr(start, comma == std::string_view::npos ? comma : comma - start);
        if (item.empty()) {
          error = "first= takes names separated by commas";
          return false;
        }
        out.first.emplace_back(item);
        if (comma == std::string_view::npos) break;
        start = comma + 1;
      }
    } else {
      error = "unknown field " + std::string(name) + "=";
      return false;
    }
  }
  return error.empty();
}

std::string describe_packet(const Packet& p) {
  const PacketHeader& h = p.header;
  return "magic=" + hex(h.magic, 2) + " op=" + hex(h.opcode, 2) + " status=" + hex(h.status, 4) +
         " opaque=" + hex(h.opaque, 8) + " cas=" + hex(h.cas, 16) +
         " extras=" + hex_bytes(p.extras) + " key=" + printable(p.key, 48) +
         " value=" + printable(p.value, 48);
}

}  // namespace katsubushi::conform
