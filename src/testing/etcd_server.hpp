// etcd for tests, all on loopback: EtcdCluster starts 1 or 3 real etcd
// members (Debian's etcd-server 3.4) on free 127.0.0.1 ports, in a temp
// directory of its own, and waits until every member serves. Members can be
// killed (SIGKILL, data kept) and started again, paused (SIGSTOP), and the
// leader moved. With `tls`, a CA, server and client certificates are made
// with openssl in that directory and the members serve https:// with
// --client-cert-auth. Everything is killed and removed when it goes, and
// killed by the kernel if the test process dies first.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace katsubushi::testing {

// Whether etcd and etcdctl are on PATH (tests skip without them).
bool etcd_available();

struct EtcdClusterOptions {
  int members = 1;  // 1 or 3
  bool tls = false;
};

// File paths of the certificates a TLS cluster was made with.
struct EtcdTlsFiles {
  std::string ca;           // the CA's certificate
  std::string client_cert;  // a client certificate the members accept
  std::string client_key;
};

class EtcdCluster {
 public:
  // Starts every member and waits (up to 30 s) until each serves and a
  // leader is elected; throws std::runtime_error (with etcd's log tail)
  // when they do not.
  explicit EtcdCluster(EtcdClusterOptions options = {});
  ~EtcdCluster();
  EtcdCluster(const EtcdCluster&) = delete;
  EtcdCluster& operator=(const EtcdCluster&) = delete;

  int size() const { return static_cast<int>(members_.size()); }
  // Every member's client URL, comma-separated: what -etcd takes.
  std::string endpoints() const;
  std::string endpoint(int member) const;  // http(s)://127.0.0.1:PORT
  std::uint16_t client_port(int member) const;
  const EtcdTlsFiles* tls() const { return tls_ ? &*tls_ : nullptr; }

  // SIGKILL (data kept in its directory) / start again on the same ports,
  // waiting until it serves.
  void kill(int member);
  void start(int member);
  // SIGSTOP / SIGCONT: a member that hangs.
  void pause(int member);
  void resume(int member);
  bool running(int member) const;

  // The index of the member that leads now (-1 when none says so), and
  // moving the lead to `member` (etcdctl move-leader); waits until it has.
  int leader() const;
  void move_leader(int member);

  // etcdctl against the running members (TLS and auth flags added), 10 s at
  // most: its output, trimmed. Throws std::runtime_error when it fails.
  std::string etcdctl(const std::vector<std::string>& args) const;
  // Key helpers over etcdctl.
  std::optional<std::string> get(const std::string& key) const;
  void put(const std::string& key, const std::string& value) const;
  // Turns auth on: user root (password `root_password`), and `user` with
  // `password` granted readwrite on keys starting with `prefix`. etcdctl()
  // logs in as root from then on.
  void enable_auth(const std::string& user, const std::string& password,
                   const std::string& prefix, const std::string& root_password = "rootpw");

 private:
  struct Member {
    std::string name;
    std::uint16_t client_port = 0;
    std::uint16_t peer_port = 0;
    std::string data_dir;
    std::string log_file;
    pid_t pid = -1;
    bool paused = false;
  };
  void launch(int member, bool new_cluster);
  bool wait_serving(int member, int timeout_ms) const;
  std::string initial_cluster() const;
  std::string log_tail(int member) const;

  EtcdClusterOptions options_;
  std::string dir_;
  std::vector<Member> members_;
  std::optional<EtcdTlsFiles> tls_;
  std::string server_cert_;
  std::string server_key_;
  std::string root_password_;  // empty until enable_auth()
};

}  // namespace katsubushi::testing
