// parse_meta_line on arbitrary bytes. Oracles: never crash; views stay inside
// the line; a request that parses has a valid key (memcached's rule, or
// canonical base64 with b), an opaque within its limit, each flag once and
// its flags struct agreeing with its letters; separators around the line and
// the command name's case change nothing; parse -> render -> parse gives the
// same request; the reply written for an mg is well formed and echoes what
// the request asked for, in its order.
#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>

#include "service/buffers.hpp"
#include "proto/meta_base64.hpp"
#include "proto/meta_command.hpp"
#include "proto/meta_reply.hpp"
#include "proto/text_command.hpp"
#include "support.hpp"

namespace {

using katsubushi::fuzz::check;
using namespace katsubushi::proto;

bool inside(std::string_view view, std::string_view line) {
  if (view.empty()) return true;
  return view.data() >= line.data() && view.data() + view.size() <= line.data() + line.size();
}

bool same_request(const MetaRequest& a, const MetaRequest& b) {
  return a.kind == b.kind && a.key == b.key && a.opaque == b.opaque && a.flags == b.flags &&
         a.flag_order() == b.flag_order() && a.data_bytes == b.data_bytes;
}

bool flag_set(const MetaFlags& f, char letter) {
  switch (letter) {
    case 'b': return f.base64_key;
    case 'c': return f.return_cas;
    case 'f': return f.return_flags;
    case 'k': return f.return_key;
    case 'O': return f.opaque;
    case 'q': return f.quiet;
    case 's': return f.return_size;
    case 't': return f.return_ttl;
    case 'v': return f.return_value;
    default: return false;
  }
}

void check_valid_request(std::string_view line, const MetaRequest& r) {
  check(inside(r.key, line) && inside(r.opaque, line));
  if (r.kind == MetaCommandKind::noop) {
    check(r.key.empty() && r.flag_order().empty());
    return;
  }
  check(!r.key.empty());
  if (r.kind != MetaCommandKind::get) {
    check(r.flag_order().empty() && r.flags == MetaFlags{});
    if (r.kind != MetaCommandKind::set) check(r.data_bytes == 0);
    return;
  }
  check(r.data_bytes == 0);
  // The key rule: text keys as `get`'s, base64 keys canonical and decoding to bytes.
  check(r.key.size() <= kMaxKeyBytes);
  if (r.flags.base64_key) {
    const auto decoded = base64_decode(r.key);
    check(decoded.has_value() && !decoded->empty() && base64_encode(*decoded) == r.key);
  } else {
    check(valid_key(r.key));
  }
  check(r.opaque.size() <= kMaxOpaqueBytes);
  for (const char c : r.opaque) check(static_cast<unsigned char>(c) >= 0x20 && c != 0x7f);
  if (!r.flags.opaque) check(r.opaque.empty());
  // Each letter once, and exactly the letters whose flags are set.
  const std::string_view order = r.flag_order();
  std::size_t set = 0;
  for (const char letter : std::string_view("bcfkOqstv")) {
    const auto n = static_cast<std::size_t>(std::count(order.begin(), order.end(), letter));
    check(n == (flag_set(r.flags, letter) ? 1u : 0u));
    set += n;
  }
  check(set == order.size());
}

// The reply to an mg: VA <len> or HD, then one return flag per letter that
// asks for one, in order, then the value with v.
void check_reply(const MetaRequest& r) {
  constexpr std::uint64_t kId = 1234567;
  katsubushi::service::OutputBuffer out;
  append_meta_get_reply(r, kId, out);
  std::string_view reply = out.unsent();
  std::string expected = r.flags.return_value ? "VA 7" : "HD";
  for (const char letter : r.flag_order()) {
    switch (letter) {
      case 'k':
        expected += " k" + std::string(r.key) + (r.flags.base64_key ? " b" : "");
        break;
      case 'O':
        expected += " O" + std::string(r.opaque);
        break;
      case 'c':
        expected += " c1234567";
        break;
      case 'f':
        expected += " f0";
        break;
      case 's':
        expected += " s7";
        break;
      case 't':
        expected += " t-1";
        break;
      default:
        break;
    }
  }
  expected += "\r\n";
  if (r.flags.return_value) expected += "1234567\r\n";
  check(reply == expected);
  // No byte of it can end a reply line early or break the client's parser.
  for (const char c : reply.substr(0, reply.find("\r\n"))) {
    check(static_cast<unsigned char>(c) >= 0x20 && c != 0x7f);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view line(reinterpret_cast<const char*>(data), size);
  MetaRequest r;
  const MetaError error = parse_meta_line(line, r);

  // The text parser sends a line here exactly when its first token names a
  // meta command; every other line is refused as bad format.
  TextCommand text;
  parse_text_line(line, text);
  if (text.kind != TextCommandKind::meta) check(error == MetaError::bad_format);

  // Separators around the line and the case of the name change nothing.
  const std::string padded = " \t" + std::string(line) + "\r\f ";
  MetaRequest again;
  check(parse_meta_line(padded, again) == error);
  if (error == MetaError::none) check(same_request(r, again));
  // Upper-case the name's letters when the first token is two bytes long.
  std::string shouted(line);
  const std::size_t name_start = shouted.find_first_not_of(" \t\v\f\r");
  if (name_start != std::string::npos && name_start + 2 <= shouted.size() &&
      (name_start + 2 == shouted.size() ||
       std::string_view(" \t\v\f\r").find(shouted[name_start + 2]) != std::string_view::npos)) {
    for (std::size_t i = name_start; i < name_start + 2; ++i) {
      if (shouted[i] >= 'a' && shouted[i] <= 'z') shouted[i] = static_cast<char>(shouted[i] - 32);
    }
    check(parse_meta_line(shouted, again) == error);
    if (error == MetaError::none) check(same_request(r, again));
  }

  if (error != MetaError::none) return 0;
  check_valid_request(line, r);

  // parse -> render -> parse.
  const std::string canonical = render_meta_request(r);
  check(parse_meta_line(canonical, again) == MetaError::none);
  check(again.kind == r.kind && again.key == r.key && again.opaque == r.opaque &&
        again.flags == r.flags && again.flag_order() == r.flag_order() &&
        again.data_bytes == r.data_bytes);
  check(render_meta_request(again) == canonical);

  if (r.kind == MetaCommandKind::get) check_reply(r);

  // A reused request is fully reset by the next parse.
  check(parse_meta_line(line, again) == MetaError::none && same_request(r, again));
  return 0;
}
