// Properties of parse_text_line: whatever layout a client gives valid requests
// (case of the command name, runs of spaces, "\r\n" or "\n"), each line parses
// back to the request it came from, and invalid lines get the documented kind.
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <string>
#include <string_view>
#include <vector>

#include "proto/text_command.hpp"
#include "text_requests.hpp"

namespace katsubushi::proptest {
namespace {

using proto::TextCommand;
using proto::TextCommandKind;

void assert_parsed_as(const TextCommand& got, const TextRequest& want) {
  RC_ASSERT(kind_name(got.kind) == kind_name(want.kind));
  RC_ASSERT(got.keys.size() == want.keys.size());
  for (std::size_t i = 0; i < want.keys.size(); ++i) RC_ASSERT(got.keys[i] == want.keys[i]);
  RC_ASSERT(got.stats_group == want.stats_group);
  RC_ASSERT(got.noreply == want.noreply);
  RC_ASSERT(got.data_bytes == (want.data ? want.data->size() : 0u));
}

// The whole conversation is cut into lines the way a server must: at each
// "\n", dropping one '\r' before it, and skipping a storage command's block
// by its announced length (a block may hold any bytes, "\n" included).
RC_GTEST_PROP(TextParserProperties, RenderedRequestsParseBack, ()) {
  const auto requests = *valid_conversation();
  const std::string wire = render_all(requests);

  std::size_t pos = 0;
  TextCommand cmd;
  for (const TextRequest& want : requests) {
    const std::size_t nl = wire.find('\n', pos);
    RC_ASSERT(nl != std::string::npos);
    std::string_view line(wire.data() + pos, nl - pos);
    RC_ASSERT(line.ends_with('\r') == want.crlf);
    if (want.crlf) line.remove_suffix(1);
    proto::parse_text_line(line, cmd);
    assert_parsed_as(cmd, want);
    pos = nl + 1;
    if (cmd.kind == TextCommandKind::storage) {
      RC_ASSERT(wire.compare(pos, cmd.data_bytes, *want.data) == 0);
      pos += cmd.data_bytes;
      RC_ASSERT(wire.compare(pos, 2, "\r\n") == 0);
      pos += 2;
    }
  }
  RC_ASSERT(pos == wire.size());
}

RC_GTEST_PROP(TextParserProperties, InvalidLinesGetTheDocumentedKind, ()) {
  const auto bad = *invalid_request();
  const std::string line = bad.line();
  TextCommand cmd;
  proto::parse_text_line(line, cmd);
  RC_ASSERT(kind_name(cmd.kind) == kind_name(bad.kind));
  RC_TAG(kind_name(bad.kind));
}

// A key is valid exactly when memcached would take it: 1..250 bytes, none of
// them a control byte, space or DEL.
RC_GTEST_PROP(TextParserProperties, ValidKeyMatchesTheMemcachedRule, ()) {
  const auto any_byte = rc::gen::map(rc::gen::inRange(0, 256),
                                     [](int b) { return static_cast<char>(b); });
  const auto key = *rc::gen::weightedOneOf<std::string>({
      {1, rc::gen::string<std::string>()},
      {1, rc::gen::mapcat(rc::gen::inRange<std::size_t>(proto::kMaxKeyBytes - 2,
                                                        proto::kMaxKeyBytes + 3),
                          [](std::size_t n) {
                            return rc::gen::container<std::string>(
                                n, rc::gen::map(rc::gen::inRange(0x21, 0x7f),
                                                [](int b) { return static_cast<char>(b); }));
                          })},
      {1, rc::gen::container<std::string>(any_byte)},
  });
  bool want = !key.empty() && key.size() <= proto::kMaxKeyBytes;
  for (const char c : key) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x21 || u == 0x7f) want = false;
  }
  RC_ASSERT(proto::valid_key(key) == want);
}

}  // namespace
}  // namespace katsubushi::proptest
