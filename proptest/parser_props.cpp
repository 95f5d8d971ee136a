// Properties of parse_text_line and parse_meta_line: whatever layout a client
// gives valid requests (case of the command name, runs of go-katsubushi's
// separators, "\r\n" or "\n"), each line parses back to the request it came
// from, and invalid lines get the documented kind (and meta error).
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <string>
#include <string_view>
#include <vector>

#include "proto/meta_base64.hpp"
#include "proto/meta_command.hpp"
#include "proto/text_command.hpp"
#include "text_requests.hpp"

namespace katsubushi::proptest {
namespace {

using proto::TextCommand;
using proto::TextCommandKind;

// The meta request `line` holds is the one `want` was built from.
void assert_meta_parsed_as(std::string_view line, const TextRequest& want) {
  proto::MetaRequest got;
  const proto::MetaError error = proto::parse_meta_line(line, got);
  RC_ASSERT(error == want.meta_error);
  if (error != proto::MetaError::none) return;
  RC_ASSERT(got.kind == want.meta);
  if (want.meta == proto::MetaCommandKind::noop) return;
  RC_ASSERT(got.key == want.meta_key);
  RC_ASSERT(std::string(got.flag_order()) == want.meta_flags);
  RC_ASSERT(got.opaque == want.opaque);
  RC_ASSERT(got.data_bytes == (want.data ? want.data->size() : 0u));
  // The canonical rendering parses back to the same request.
  const std::string canonical = proto::render_meta_request(got);
  proto::MetaRequest again;
  RC_ASSERT(proto::parse_meta_line(canonical, again) == proto::MetaError::none);
  RC_ASSERT(again.key == got.key && again.opaque == got.opaque && again.flags == got.flags &&
            again.flag_order() == got.flag_order() && again.data_bytes == got.data_bytes);
}

void assert_parsed_as(std::string_view line, const TextCommand& got, const TextRequest& want) {
  RC_ASSERT(kind_name(got.kind) == kind_name(want.kind));
  const auto keys = proto::split_keys(got.keys);
  RC_ASSERT(got.key_count == want.keys.size() && keys.size() == want.keys.size());
  for (std::size_t i = 0; i < want.keys.size(); ++i) RC_ASSERT(keys[i] == want.keys[i]);
  RC_ASSERT(got.stats_group == want.stats_group);
  RC_ASSERT(got.stats_nargs == want.stats_args.size());
  for (std::size_t i = 0; i < want.stats_args.size(); ++i) {
    RC_ASSERT(got.stats_args[i] == want.stats_args[i]);
  }
  RC_ASSERT(got.noreply == want.noreply);
  const bool storage = want.kind == TextCommandKind::storage;
  RC_ASSERT(got.data_bytes == (storage ? want.data->size() : 0u));
  if (want.kind == TextCommandKind::meta) assert_meta_parsed_as(line, want);
}

// The whole conversation is cut into lines the way a server must: at each
// "\n", dropping one '\r' before it, and skipping a storage command's (or
// ms's) block by its announced length (a block may hold any bytes, "\n"
// included).
RC_GTEST_PROP(TextParserProperties, RenderedRequestsParseBack, ()) {
  const auto requests = *valid_conversation();
  const std::string wire = render_all(requests);

  std::size_t pos = 0;
  TextCommand cmd;
  for (const TextRequest& want : requests) {
    const std::size_t nl = wire.find('\n', pos);
    RC_ASSERT(nl != std::string::npos);
    std::string_view line(wire.data() + pos, nl - pos);
    if (want.crlf) RC_ASSERT(line.ends_with('\r'));
    if (line.ends_with('\r')) line.remove_suffix(1);
    proto::parse_text_line(line, cmd);
    assert_parsed_as(line, cmd, want);
    pos = nl + 1;
    if (want.data) {
      RC_ASSERT(wire.compare(pos, want.data->size(), *want.data) == 0);
      pos += want.data->size();
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
  if (bad.kind == TextCommandKind::meta) {
    proto::MetaRequest meta;
    RC_ASSERT(proto::parse_meta_line(line, meta) == bad.meta_error);
  }
  RC_TAG(kind_name(bad.kind));
}

// Where a base64 key (mg's b flag) goes through the parser, the bytes it
// names survive: encoding any bytes gives a key that decodes back to them.
RC_GTEST_PROP(TextParserProperties, MgBase64KeysRoundTrip, (const std::string& bytes)) {
  RC_PRE(!bytes.empty());
  const std::string encoded = proto::base64_encode(bytes);
  RC_ASSERT(proto::base64_decode(encoded) == bytes);
  const std::string line = "mg " + encoded + " b k v";
  proto::MetaRequest r;
  const proto::MetaError error = proto::parse_meta_line(line, r);
  RC_ASSERT(error == (encoded.size() <= proto::kMaxKeyBytes ? proto::MetaError::none
                                                            : proto::MetaError::bad_format));
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
