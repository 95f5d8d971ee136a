// Properties of parse_text_line and parse_meta_line: whatever layout a client
// gives valid requests (case of the command name, runs of go-katsubushi's
// separators, "\r\n" or "\n"), each line parses back to the request it came
// from, and invalid lines get the documented kind (and meta error).
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <algorithm>
#include <string>
#include <string_view>
#include <tuple>
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

// GetKeyScan, eight bytes at a time, counts and checks a get's keys exactly
// as splitting on the separators and valid_key() do, whatever pieces the
// bytes come in: keys near the 250-byte limit, DEL and control bytes in
// keys, every separator, runs of them.
RC_GTEST_PROP(TextParserProperties, GetKeyScanAgreesWithTheTokenizer, ()) {
  const auto byte_of = [](std::string_view alphabet) {
    return rc::gen::map(rc::gen::elementOf(std::vector<char>(alphabet.begin(), alphabet.end())),
                        [](char c) { return c; });
  };
  const auto key_run = rc::gen::mapcat(
      rc::gen::weightedOneOf<std::size_t>({{4, rc::gen::inRange<std::size_t>(1, 12)},
                                           {1, rc::gen::inRange<std::size_t>(247, 255)}}),
      [&](std::size_t n) {
        // Good bytes, and now and then one a key may not hold, anywhere in it.
        return rc::gen::map(
            rc::gen::tuple(rc::gen::container<std::string>(n, byte_of("abcxyz0123456789\x80\xff")),
                           rc::gen::inRange<std::size_t>(0, 8 * n),
                           byte_of("\x7f\x01\x1f\n")),
            [](std::tuple<std::string, std::size_t, char> t) {
              auto& [key, at, bad] = t;
              if (at < key.size()) key[at] = bad;
              return key;
            });
      });
  const auto separators = rc::gen::container<std::string>(
      rc::gen::weightedOneOf<char>({{8, rc::gen::just(' ')}, {1, byte_of("\t\v\f\r")}}));
  const auto pieces = *rc::gen::container<std::vector<std::string>>(
      rc::gen::weightedOneOf<std::string>({{3, key_run}, {2, separators}}));
  std::string line;
  for (const auto& p : pieces) line += p;

  std::size_t want_count = 0;
  bool want_valid = true;
  for (const auto key : proto::split_keys(line)) {
    ++want_count;
    want_valid = want_valid && proto::valid_key(key);
  }
  proto::GetKeyScan whole;
  whole.feed(line);
  RC_ASSERT(whole.count() == want_count);
  RC_ASSERT(whole.all_valid() == want_valid);

  // Fed in pieces cut anywhere.
  auto cuts = *rc::gen::container<std::vector<std::size_t>>(
      rc::gen::inRange<std::size_t>(0, line.size() + 1));
  std::sort(cuts.begin(), cuts.end());
  proto::GetKeyScan pieced;
  std::size_t from = 0;
  for (const std::size_t cut : cuts) {
    pieced.feed(std::string_view(line).substr(from, cut - from));
    from = cut;
  }
  pieced.feed(std::string_view(line).substr(from));
  RC_ASSERT(pieced.count() == want_count);
  RC_ASSERT(pieced.all_valid() == want_valid);
}

}  // namespace
}  // namespace katsubushi::proptest
