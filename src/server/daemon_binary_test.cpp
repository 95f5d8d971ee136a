// The memcached binary protocol on the real daemon's main port, with raw
// packets over loopback: a GetKQ batch closed by Noop comes back whole, ids
// increase, text clients are served meanwhile, Quit closes.
#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "id/layout.hpp"
#include "testing/daemon_process.hpp"

namespace katsubushi::testing {
namespace {

std::string be(std::uint64_t v, int width) {
  std::string out(static_cast<std::size_t>(width), '\0');
  for (int i = width - 1; i >= 0; --i) {
    out[static_cast<std::size_t>(i)] = static_cast<char>(v & 0xFF);
    v >>= 8;
  }
  return out;
}

std::uint64_t read_be(const std::string& s, std::size_t at, int width) {
  std::uint64_t v = 0;
  for (int i = 0; i < width; ++i) {
    v = (v << 8) | static_cast<unsigned char>(s[at + static_cast<std::size_t>(i)]);
  }
  return v;
}

std::string request(std::uint8_t opcode, const std::string& key, std::uint32_t opaque) {
  return std::string{static_cast<char>(0x80), static_cast<char>(opcode)} + be(key.size(), 2) +
         std::string(4, '\0') + be(key.size(), 4) + be(opaque, 4) + std::string(8, '\0') + key;
}

struct Response {
  std::uint8_t opcode = 0;
  std::uint16_t status = 0;
  std::uint32_t opaque = 0;
  std::uint64_t cas = 0;
  std::string key;
  std::string value;
};

// Reads one response packet, or nullopt on timeout or close.
std::optional<Response> read_response(LoopbackClient& c) {
  std::string header;
  while (header.size() < 24) {
    if (c.recv_some(header, kReplyTimeout) != RecvStatus::data) return std::nullopt;
  }
  // recv_some may have read past this packet; keep the rest as the body start.
  std::string bytes = header;
  const auto body = read_be(bytes, 8, 4);
  while (bytes.size() < 24 + body) {
    if (c.recv_some(bytes, kReplyTimeout) != RecvStatus::data) return std::nullopt;
  }
  if (static_cast<unsigned char>(bytes[0]) != 0x81) return std::nullopt;
  Response r;
  r.opcode = static_cast<std::uint8_t>(bytes[1]);
  const auto key_length = read_be(bytes, 2, 2);
  const auto extras_length = read_be(bytes, 4, 1);
  r.status = static_cast<std::uint16_t>(read_be(bytes, 6, 2));
  r.opaque = static_cast<std::uint32_t>(read_be(bytes, 12, 4));
  r.cas = read_be(bytes, 16, 8);
  r.key = bytes.substr(24 + extras_length, key_length);
  r.value = bytes.substr(24 + extras_length + key_length, body - extras_length - key_length);
  c.unread(bytes.substr(24 + body));
  return r;
}

TEST(DaemonBinary, GetkqBatchClosedByNoopThenVersionStatAndQuit) {
  DaemonProcess daemon;
  ASSERT_TRUE(daemon.start_tcp({"-worker-id=51", "-threads=2"})) << daemon.log();
  LoopbackClient bin, text;
  ASSERT_TRUE(bin.connect_tcp("127.0.0.1", daemon.port()));
  ASSERT_TRUE(text.connect_tcp("127.0.0.1", daemon.port()));

  constexpr std::uint32_t kKeys = 50;
  std::string batch;
  for (std::uint32_t i = 0; i < kKeys; ++i) batch += request(0x0D, "k" + std::to_string(i), i);
  batch += request(0x0A, "", 9999);
  ASSERT_TRUE(bin.send_all(batch));
  std::uint64_t last = 0;
  for (std::uint32_t i = 0; i < kKeys; ++i) {
    const auto r = read_response(bin);
    ASSERT_TRUE(r) << "reply " << i;
    EXPECT_EQ(r->opcode, 0x0D);
    EXPECT_EQ(r->status, 0);
    EXPECT_EQ(r->opaque, i);
    EXPECT_EQ(r->key, "k" + std::to_string(i));
    EXPECT_EQ(std::to_string(r->cas), r->value);
    EXPECT_GT(r->cas, last);
    EXPECT_EQ(id::decode(r->cas).worker_id, 51u);
    last = r->cas;
  }
  const auto noop = read_response(bin);
  ASSERT_TRUE(noop);
  EXPECT_EQ(noop->opcode, 0x0A);
  EXPECT_EQ(noop->opaque, 9999u);

  // A text client on the same daemon meanwhile.
  auto values = request_ids(text, "get between");
  ASSERT_TRUE(values);
  EXPECT_GT((*values)[0].id, last);

  ASSERT_TRUE(bin.send_all(request(0x0B, "", 1) + request(0x10, "", 2)));
  const auto version = read_response(bin);
  ASSERT_TRUE(version);
  EXPECT_FALSE(version->value.empty());
  bool saw_pid = false;
  for (;;) {
    const auto stat = read_response(bin);
    ASSERT_TRUE(stat);
    if (stat->key.empty()) break;
    saw_pid = saw_pid || (stat->key == "pid" && stat->value == std::to_string(daemon.pid()));
  }
  EXPECT_TRUE(saw_pid);

  ASSERT_TRUE(bin.send_all(request(0x07, "", 3)));
  const auto quit = read_response(bin);
  ASSERT_TRUE(quit);
  EXPECT_EQ(quit->opcode, 0x07);
  EXPECT_TRUE(bin.read_until_closed()) << "Quit did not close the connection";
}

// Single gets, an unknown command kept, QuitQ's silent close and a malformed
// request's refusal, each on the real daemon.
TEST(DaemonBinary, GetGetkUnknownCommandQuitqAndARefusal) {
  DaemonProcess daemon;
  ASSERT_TRUE(daemon.start_tcp({"-worker-id=52"})) << daemon.log();
  LoopbackClient c;
  ASSERT_TRUE(c.connect_tcp("127.0.0.1", daemon.port()));

  ASSERT_TRUE(c.send_all(request(0x00, "a", 0xdeadbeef)));
  const auto get = read_response(c);
  ASSERT_TRUE(get);
  EXPECT_EQ(get->opcode, 0x00);
  EXPECT_EQ(get->status, 0);
  EXPECT_EQ(get->opaque, 0xdeadbeefu);
  EXPECT_EQ(get->key, "");
  EXPECT_EQ(get->value, std::to_string(get->cas));
  EXPECT_EQ(id::decode(get->cas).worker_id, 52u);

  // A Set (0x01) with extras, key and value: unknown here, its body skipped.
  std::string set = request(0x01, "k", 7);
  set[4] = 8;                             // extras length
  set.replace(8, 4, be(8 + 1 + 5, 4));    // body length
  set.insert(24, std::string(8, '\0'));  // the extras, before the key
  set += "hello";
  ASSERT_TRUE(c.send_all(set + request(0x0C, "b", 8)));
  const auto unknown = read_response(c);
  ASSERT_TRUE(unknown);
  EXPECT_EQ(unknown->opcode, 0x01);
  EXPECT_EQ(unknown->status, 0x0081);
  EXPECT_EQ(unknown->opaque, 7u);
  EXPECT_EQ(unknown->value, "Unknown command");
  const auto getk = read_response(c);
  ASSERT_TRUE(getk);
  EXPECT_EQ(getk->status, 0);
  EXPECT_EQ(getk->key, "b");
  EXPECT_GT(getk->cas, get->cas);

  ASSERT_TRUE(c.send_all(request(0x17, "", 9)));
  const auto after_quitq = c.read_until_closed();
  ASSERT_TRUE(after_quitq) << "QuitQ did not close the connection";
  EXPECT_EQ(*after_quitq, "");

  // Extras on a Get: Invalid arguments, then the close.
  LoopbackClient bad;
  ASSERT_TRUE(bad.connect_tcp("127.0.0.1", daemon.port()));
  std::string get_with_extras = request(0x00, "a", 10);
  get_with_extras[4] = 4;
  get_with_extras.replace(8, 4, be(5, 4));
  get_with_extras.insert(24, std::string(4, '\0'));
  ASSERT_TRUE(bad.send_all(get_with_extras));
  const auto refused = read_response(bad);
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->status, 0x0004);
  EXPECT_EQ(refused->value, "Invalid arguments");
  const auto rest = bad.read_until_closed();
  ASSERT_TRUE(rest) << "a refused request did not close the connection";
  EXPECT_EQ(*rest, "");
}

}  // namespace
}  // namespace katsubushi::testing
