// The memcached binary protocol on the real daemon's main port, with raw
// packets over loopback: a GetKQ batch closed by Noop comes back whole, ids
// increase, text clients are served meanwhile, Quit closes.
#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "id/layout.hpp"
#include "testing/binary_wire.hpp"
#include "testing/daemon_process.hpp"

namespace katsubushi::testing {
namespace {

// Reads one response packet, or nullopt on timeout, close or a packet that is
// not a response.
std::optional<BinaryPacket> read_response(LoopbackClient& c) {
  std::string bytes;
  while (bytes.size() < kBinaryHeaderBytes) {
    if (c.recv_some(bytes, kReplyTimeout) != RecvStatus::data) return std::nullopt;
  }
  // recv_some may have read past this packet; keep the rest for the next.
  const std::size_t size = kBinaryHeaderBytes + binary_body_length(bytes);
  while (bytes.size() < size) {
    if (c.recv_some(bytes, kReplyTimeout) != RecvStatus::data) return std::nullopt;
  }
  auto r = read_binary_packet(bytes);
  if (!r || r->magic != kResponseMagic) return std::nullopt;
  c.unread(bytes.substr(size));
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
  for (std::uint32_t i = 0; i < kKeys; ++i)
    batch += binary_request(0x0D, "k" + std::to_string(i), i);
  batch += binary_request(0x0A, "", 9999);
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

  ASSERT_TRUE(bin.send_all(binary_request(0x0B, "", 1) + binary_request(0x10, "", 2)));
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

  ASSERT_TRUE(bin.send_all(binary_request(0x07, "", 3)));
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

  ASSERT_TRUE(c.send_all(binary_request(0x00, "a", 0xdeadbeef)));
  const auto get = read_response(c);
  ASSERT_TRUE(get);
  EXPECT_EQ(get->opcode, 0x00);
  EXPECT_EQ(get->status, 0);
  EXPECT_EQ(get->opaque, 0xdeadbeefu);
  EXPECT_EQ(get->key, "");
  EXPECT_EQ(get->value, std::to_string(get->cas));
  EXPECT_EQ(id::decode(get->cas).worker_id, 52u);

  // A Set (0x01) with extras, key and value: unknown here, its body skipped.
  const std::string set =
      binary_packet(kRequestMagic, 0x01, "k", std::string(8, '\0'), "hello", 0, 7);
  ASSERT_TRUE(c.send_all(set + binary_request(0x0C, "b", 8)));
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

  ASSERT_TRUE(c.send_all(binary_request(0x17, "", 9)));
  const auto after_quitq = c.read_until_closed();
  ASSERT_TRUE(after_quitq) << "QuitQ did not close the connection";
  EXPECT_EQ(*after_quitq, "");

  // Extras on a Get: Invalid arguments, then the close.
  LoopbackClient bad;
  ASSERT_TRUE(bad.connect_tcp("127.0.0.1", daemon.port()));
  const std::string get_with_extras =
      binary_packet(kRequestMagic, 0x00, "a", std::string(4, '\0'), {}, 0, 10);
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
