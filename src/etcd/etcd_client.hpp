// A small blocking etcd v3 client over gRPC, for the lease keeper's thread
// only (never an I/O thread): the calls a worker-id lease needs and no more.
// The messages are etcd's own API (src/etcd/etcd_rpc.proto, written from
// etcd's API reference: package etcdserverpb, services KV, Lease, Auth and
// Maintenance).
//
// Every public call is bounded by one timeout, shared by every attempt it
// makes. An attempt goes to the endpoint that answered last, then to the
// others in order: an endpoint that cannot be reached, does not answer within
// its share of the time, or answers UNAVAILABLE (no leader yet, the leader
// changed, a member stopping) is left for the next one, so a member killed or
// a leader change costs no failed call while a quorum answers. With a user,
// the token etcd hands out (Auth.Authenticate) is sent with every call as the
// `token` metadata and asked for again once when etcd says it is invalid or
// expired. A call that did not complete throws EtcdError naming the endpoint,
// the method and etcd's status.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "lease/store_error.hpp"

namespace katsubushi::lease {

// A call that did not complete (see above).
class EtcdError : public StoreError {
 public:
  using StoreError::StoreError;
};

// A -etcd value, or a TLS or password file, that cannot work: a flag error.
// The message names the value or the file.
class EtcdConfigError : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

struct EtcdEndpoint {
  bool tls = false;  // https://
  std::string host;  // a name, an IPv4 address, or an IPv6 one (without brackets)
  std::uint16_t port = 2379;

  std::string url() const;     // "http://host:port", "https://[::1]:port"
  std::string target() const;  // gRPC's "host:port", "[::1]:port"
  friend bool operator==(const EtcdEndpoint&, const EtcdEndpoint&) = default;
};

// A -etcd value: "URL[,URL...]", 1 to 16 endpoints, each http://host[:port]
// or https://host[:port] (port 2379 when left out; [v6] in brackets), all of
// one scheme, no path but "/", no user info, no query, no duplicates.
// Throws EtcdConfigError naming the part that is wrong.
std::vector<EtcdEndpoint> parse_etcd_endpoints(std::string_view text);

struct EtcdOptions {
  std::vector<EtcdEndpoint> endpoints;
  // PEM files, https only: the CA that signed the members' certificates
  // (empty: the system's roots), and a client certificate with its key
  // (both or neither) for members run with --client-cert-auth.
  std::string ca_file;
  std::string cert_file;
  std::string key_file;
  // etcd's user/password auth; empty user: none.
  std::string user;
  std::string password;
};

struct EtcdKeyValue {
  std::string key;
  std::string value;
  std::int64_t create_revision = 0;
  std::int64_t mod_revision = 0;
  std::int64_t version = 0;
  std::int64_t lease = 0;  // 0: attached to no lease
};

// One comparison of a transaction (etcd's Compare).
struct EtcdCompare {
  enum class Target : std::uint8_t { version, create_revision, mod_revision, value, lease };
  enum class Result : std::uint8_t { equal, greater, less, not_equal };
  std::string key;
  Target target = Target::value;
  Result result = Result::equal;
  std::int64_t number = 0;  // version, create_revision, mod_revision, lease
  std::string value;        // Target::value

  static EtcdCompare value_is(std::string key, std::string value);
  static EtcdCompare lease_is(std::string key, std::int64_t lease);
  static EtcdCompare absent(std::string key);  // create_revision == 0
};

// One operation of a transaction's branch (etcd's RequestOp).
struct EtcdOp {
  enum class Kind : std::uint8_t { get, put, erase };
  Kind kind = Kind::get;
  std::string key;
  std::string value;       // put
  std::int64_t lease = 0;  // put: the lease the key is attached to; 0: none

  static EtcdOp get(std::string key);
  static EtcdOp put(std::string key, std::string value, std::int64_t lease = 0);
  static EtcdOp erase(std::string key);
};

struct EtcdTxnResult {
  bool succeeded = false;
  // One entry per operation of the branch taken, in order: what a get
  // found (nothing for a key that is absent, and for puts and erases).
  std::vector<std::vector<EtcdKeyValue>> gets;
  std::int64_t revision = 0;  // the response header's
};

struct EtcdStatus {
  std::string endpoint;  // the URL that answered
  std::string version;   // etcd's, "3.4.23"
  std::uint64_t cluster_id = 0;
  std::uint64_t member_id = 0;
  std::uint64_t leader = 0;  // the leader's member id
  std::uint64_t raft_term = 0;
};

class EtcdClient {
 public:
  // Makes no connection yet. Reads the TLS files now: throws EtcdConfigError
  // naming a file that cannot be read, or a cert without its key.
  EtcdClient(EtcdOptions options, std::chrono::milliseconds call_timeout);
  ~EtcdClient();
  EtcdClient(const EtcdClient&) = delete;
  EtcdClient& operator=(const EtcdClient&) = delete;

  // Lease.LeaseGrant: a new lease of `ttl`; its id.
  std::int64_t grant(std::chrono::seconds ttl);
  // One Lease.LeaseKeepAlive round trip (a stream opened, one request, one
  // response): the TTL left in seconds; 0 or less when the lease is gone.
  std::int64_t keep_alive(std::int64_t lease);
  // Lease.LeaseRevoke (every key attached goes with it); a lease etcd does
  // not know is not an error.
  void revoke(std::int64_t lease);
  // Lease.LeaseTimeToLive: the TTL left in seconds; -1 when the lease is gone.
  std::int64_t time_to_live(std::int64_t lease);
  // KV.Range of `key` (with `prefix`: every key starting with it, in key
  // order), linearizable.
  std::vector<EtcdKeyValue> get(std::string_view key, bool prefix = false,
                                bool keys_only = false);
  // KV.Put.
  void put(std::string_view key, std::string_view value, std::int64_t lease = 0);
  // KV.Txn: `success` if every comparison holds, else `failure`.
  EtcdTxnResult txn(const std::vector<EtcdCompare>& compare, const std::vector<EtcdOp>& success,
                    const std::vector<EtcdOp>& failure);
  // Maintenance.Status of whichever endpoint answers.
  EtcdStatus status();

  // Drops every connection; the next call connects again.
  void disconnect();
  // "http://a:2379,http://b:2379", for logs (no password in it).
  std::string endpoints_text() const;
  // The endpoint that answered last (the first before any call).
  std::string last_endpoint() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace katsubushi::lease
