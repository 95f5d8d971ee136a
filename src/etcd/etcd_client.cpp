#include "etcd/etcd_client.hpp"

#include <grpc/grpc.h>
#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <memory>
#include <optional>
#include <system_error>
#include <thread>
#include <utility>

#include "etcd_rpc.grpc.pb.h"

namespace katsubushi::lease {

namespace {

namespace pb = etcdserverpb;
using SteadyClock = std::chrono::steady_clock;
using Deadline = SteadyClock::time_point;
using std::chrono::milliseconds;

constexpr std::size_t kMaxEndpoints = 16;
// The least time one attempt gets (when the budget allows): a TLS handshake
// and a round through the leader fit in it on a loaded machine, and a member
// that hangs still leaves the others most of the budget.
constexpr milliseconds kMinAttempt{250};
// The pause after every endpoint failed once in a call, before the next
// round: an election (a few heartbeats) gets time to end rather than being
// asked about in a tight loop.
constexpr milliseconds kRoundPause{50};

// Reconnection: a member that comes back is connected to again within about
// a second (gRPC's default backs off to two minutes). Keepalive pings notice
// a member gone silent on a connection that seems open. Their timeout is
// longer than the 5 s of gRPC's backup poller: with the blocking API, a
// ping's answer on an idle connection is read only by that poller (no call
// waits on the connection), and a shorter timeout closed every connection
// left idle for 3 s (2 s to the ping, 1 s without its answer read).
constexpr int kInitialReconnectBackoffMs = 100;
constexpr int kMinReconnectBackoffMs = 100;
constexpr int kMaxReconnectBackoffMs = 1000;
constexpr int kKeepaliveTimeMs = 2000;
constexpr int kKeepaliveTimeoutMs = 6000;

[[noreturn]] void bad(const std::string& why) { throw EtcdConfigError("-etcd: " + why); }

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool name_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '-' || c == '.' || c == '_';
}

bool v6_char(char c) {
  return std::isxdigit(static_cast<unsigned char>(c)) != 0 || c == ':' || c == '.';
}

// What a message quotes of an endpoint: the text, but for user info (which
// may hold a password) between the scheme and the last '@'.
std::string shown(std::string_view text) {
  const auto at = text.rfind('@');
  if (at == std::string_view::npos) return std::string(text);
  const auto scheme = text.find("://");
  const std::size_t from = scheme == std::string_view::npos || scheme > at ? 0 : scheme + 3;
  return std::string(text.substr(0, from)) + "***" + std::string(text.substr(at));
}

// One endpoint of a -etcd value.
EtcdEndpoint parse_endpoint(std::string_view text) {
  const std::string quoted = "\"" + shown(text) + "\"";
  EtcdEndpoint e;
  const auto scheme_end = text.find("://");
  const std::string scheme =
      scheme_end == std::string_view::npos ? std::string() : lower(text.substr(0, scheme_end));
  if (scheme != "http" && scheme != "https") {
    bad("want http://host[:port] or https://host[:port], not " + quoted);
  }
  e.tls = scheme == "https";
  const std::string_view rest = text.substr(scheme_end + 3);
  const auto authority_end = rest.find_first_of("/?#");
  const std::string_view authority = rest.substr(0, authority_end);
  const std::string_view tail =
      authority_end == std::string_view::npos ? std::string_view() : rest.substr(authority_end);
  if (authority.find('@') != std::string_view::npos) {
    bad("no user or password in an endpoint URL (" + quoted +
        "): etcd's user and password are given on their own");
  }
  if (!tail.empty() && tail != "/") {
    if (tail.front() == '/') bad("no path in " + quoted + " (only a trailing /)");
    bad("no query or fragment in " + quoted);
  }
  std::optional<std::string_view> port;  // after a ':', perhaps empty
  std::string_view host = authority;
  if (authority.starts_with('[')) {
    const auto close = authority.find(']');
    if (close == std::string_view::npos) bad("unclosed [ in " + quoted);
    host = authority.substr(1, close - 1);
    const std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') bad("bad address in " + quoted);
      port = after.substr(1);
    }
    if (host.empty() || !std::all_of(host.begin(), host.end(), v6_char) ||
        host.find(':') == std::string_view::npos) {
      bad("bad IPv6 address in " + quoted);
    }
  } else {
    if (const auto colon = authority.find(':'); colon != std::string_view::npos) {
      if (authority.find(':', colon + 1) != std::string_view::npos) {
        bad("an IPv6 address goes in brackets, as http://[::1]:2379, not " + quoted);
      }
      host = authority.substr(0, colon);
      port = authority.substr(colon + 1);
    }
    if (host.empty()) bad("no host in " + quoted);
    if (!std::all_of(host.begin(), host.end(), name_char)) {
      bad("bad host \"" + std::string(host) + "\" in " + quoted);
    }
  }
  e.host = lower(host);
  if (port) {
    unsigned v = 0;
    const auto [end, ec] = std::from_chars(port->data(), port->data() + port->size(), v);
    if (port->empty() || ec != std::errc{} || end != port->data() + port->size() || v == 0 ||
        v > 65535) {
      bad("bad port \"" + std::string(*port) + "\" in " + quoted);
    }
    e.port = static_cast<std::uint16_t>(v);
  }
  return e;
}

// A PEM file's content; EtcdConfigError naming the file when it cannot be
// read or is empty.
std::string read_pem(const std::string& path, const char* what) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) {
    // Not strerror: the keeper's thread is not the only one.
    throw EtcdConfigError(std::string("etcd ") + what + " \"" + path + "\": cannot open: " +
                          std::error_code(errno, std::generic_category()).message());
  }
  std::string text;
  std::array<char, 4096> buf{};
  std::size_t n = 0;
  while ((n = std::fread(buf.data(), 1, buf.size(), f)) > 0) text.append(buf.data(), n);
  const bool failed = std::ferror(f) != 0;
  std::fclose(f);
  if (failed) throw EtcdConfigError(std::string("etcd ") + what + " \"" + path + "\": read error");
  if (text.empty()) {
    throw EtcdConfigError(std::string("etcd ") + what + " \"" + path + "\" is empty");
  }
  return text;
}

const char* code_name(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::OK:
      return "OK";
    case grpc::StatusCode::CANCELLED:
      return "CANCELLED";
    case grpc::StatusCode::UNKNOWN:
      return "UNKNOWN";
    case grpc::StatusCode::INVALID_ARGUMENT:
      return "INVALID_ARGUMENT";
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return "DEADLINE_EXCEEDED";
    case grpc::StatusCode::NOT_FOUND:
      return "NOT_FOUND";
    case grpc::StatusCode::ALREADY_EXISTS:
      return "ALREADY_EXISTS";
    case grpc::StatusCode::PERMISSION_DENIED:
      return "PERMISSION_DENIED";
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
      return "RESOURCE_EXHAUSTED";
    case grpc::StatusCode::FAILED_PRECONDITION:
      return "FAILED_PRECONDITION";
    case grpc::StatusCode::ABORTED:
      return "ABORTED";
    case grpc::StatusCode::OUT_OF_RANGE:
      return "OUT_OF_RANGE";
    case grpc::StatusCode::UNIMPLEMENTED:
      return "UNIMPLEMENTED";
    case grpc::StatusCode::INTERNAL:
      return "INTERNAL";
    case grpc::StatusCode::UNAVAILABLE:
      return "UNAVAILABLE";
    case grpc::StatusCode::DATA_LOSS:
      return "DATA_LOSS";
    case grpc::StatusCode::UNAUTHENTICATED:
      return "UNAUTHENTICATED";
    default:
      return "UNKNOWN";
  }
}

bool contains(const std::string& text, std::string_view part) {
  return text.find(part) != std::string::npos;
}

// What a failed attempt leads to.
enum class Next : std::uint8_t {
  other_endpoint,  // this member cannot answer now; another may
  authenticate,    // the token is missing, unknown (a restarted member) or stale
  give_up,         // an answer: asking again elsewhere would get the same
};

Next next_step(const grpc::Status& s) {
  switch (s.error_code()) {
    // Connection refused or reset, TLS failures, and etcd's own "no
    // leader", "leader changed", "request timed out", "server stopped";
    // and an attempt that ran out of its share of the time.
    case grpc::StatusCode::UNAVAILABLE:
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return Next::other_endpoint;
    case grpc::StatusCode::UNAUTHENTICATED:  // "etcdserver: invalid auth token"
      return Next::authenticate;
    default:
      break;
  }
  // A proposal raft dropped (a leader handing over, a member stepping
  // down) was not applied: etcd 3.4 passes it on as UNKNOWN.
  if (contains(s.error_message(), "raft proposal dropped")) return Next::other_endpoint;
  // etcd 3.4 says these as INVALID_ARGUMENT: a call without a token while
  // auth is on, and a token issued before the users or roles changed.
  const std::string& m = s.error_message();
  if (contains(m, "invalid auth token") || contains(m, "user name is empty") ||
      contains(m, "revision of auth store is old")) {
    return Next::authenticate;
  }
  return Next::give_up;
}

// The end of a prefix range: the prefix with its last byte that is not 0xff
// increased and what follows it dropped; "\0" (no end) for a prefix of 0xff
// bytes only.
std::string prefix_end(std::string_view prefix) {
  std::string end(prefix);
  while (!end.empty()) {
    const auto last = static_cast<unsigned char>(end.back());
    if (last < 0xff) {
      end.back() = static_cast<char>(last + 1);
      return end;
    }
    end.pop_back();
  }
  return std::string(1, '\0');
}

EtcdKeyValue from_proto(const pb::KeyValue& kv) {
  return EtcdKeyValue{.key = kv.key(),
                      .value = kv.value(),
                      .create_revision = kv.create_revision(),
                      .mod_revision = kv.mod_revision(),
                      .version = kv.version(),
                      .lease = kv.lease()};
}

std::vector<EtcdKeyValue> from_proto(const pb::RangeResponse& r) {
  std::vector<EtcdKeyValue> out;
  out.reserve(static_cast<std::size_t>(r.kvs_size()));
  for (const auto& kv : r.kvs()) out.push_back(from_proto(kv));
  return out;
}

void to_proto(const EtcdCompare& c, pb::Compare& out) {
  out.set_key(c.key);
  switch (c.result) {
    case EtcdCompare::Result::equal:
      out.set_result(pb::Compare::EQUAL);
      break;
    case EtcdCompare::Result::greater:
      out.set_result(pb::Compare::GREATER);
      break;
    case EtcdCompare::Result::less:
      out.set_result(pb::Compare::LESS);
      break;
    case EtcdCompare::Result::not_equal:
      out.set_result(pb::Compare::NOT_EQUAL);
      break;
  }
  switch (c.target) {
    case EtcdCompare::Target::version:
      out.set_target(pb::Compare::VERSION);
      out.set_version(c.number);
      break;
    case EtcdCompare::Target::create_revision:
      out.set_target(pb::Compare::CREATE);
      out.set_create_revision(c.number);
      break;
    case EtcdCompare::Target::mod_revision:
      out.set_target(pb::Compare::MOD);
      out.set_mod_revision(c.number);
      break;
    case EtcdCompare::Target::value:
      out.set_target(pb::Compare::VALUE);
      out.set_value(c.value);
      break;
    case EtcdCompare::Target::lease:
      out.set_target(pb::Compare::LEASE);
      out.set_lease(c.number);
      break;
  }
}

void to_proto(const EtcdOp& op, pb::RequestOp& out) {
  switch (op.kind) {
    case EtcdOp::Kind::get:
      out.mutable_request_range()->set_key(op.key);
      break;
    case EtcdOp::Kind::put: {
      auto& put = *out.mutable_request_put();
      put.set_key(op.key);
      put.set_value(op.value);
      put.set_lease(op.lease);
      break;
    }
    case EtcdOp::Kind::erase:
      out.mutable_request_delete_range()->set_key(op.key);
      break;
  }
}

}  // namespace

std::string EtcdEndpoint::target() const {
  if (host.find(':') != std::string::npos) return "[" + host + "]:" + std::to_string(port);
  return host + ":" + std::to_string(port);
}

std::string EtcdEndpoint::url() const { return (tls ? "https://" : "http://") + target(); }

std::vector<EtcdEndpoint> parse_etcd_endpoints(std::string_view text) {
  std::vector<EtcdEndpoint> out;
  if (trim(text).empty()) bad("no endpoint (want http://host[:port][,...])");
  std::string_view rest = text;
  for (;;) {
    const auto comma = rest.find(',');
    const std::string_view part = trim(rest.substr(0, comma));
    if (part.empty()) bad("an empty endpoint in a list of several");
    EtcdEndpoint e = parse_endpoint(part);
    if (std::find(out.begin(), out.end(), e) != out.end()) bad(e.url() + " is listed twice");
    if (!out.empty() && e.tls != out.front().tls) {
      bad("every endpoint http:// or every one https://, not both");
    }
    out.push_back(std::move(e));
    if (comma == std::string_view::npos) break;
    rest = rest.substr(comma + 1);
  }
  if (out.size() > kMaxEndpoints) {
    bad("at most " + std::to_string(kMaxEndpoints) + " endpoints, not " +
        std::to_string(out.size()));
  }
  return out;
}

EtcdCompare EtcdCompare::value_is(std::string key, std::string value) {
  EtcdCompare c;
  c.key = std::move(key);
  c.target = Target::value;
  c.value = std::move(value);
  return c;
}

EtcdCompare EtcdCompare::lease_is(std::string key, std::int64_t lease) {
  EtcdCompare c;
  c.key = std::move(key);
  c.target = Target::lease;
  c.number = lease;
  return c;
}

EtcdCompare EtcdCompare::absent(std::string key) {
  EtcdCompare c;
  c.key = std::move(key);
  c.target = Target::create_revision;
  c.number = 0;
  return c;
}

EtcdOp EtcdOp::get(std::string key) {
  EtcdOp op;
  op.kind = Kind::get;
  op.key = std::move(key);
  return op;
}

EtcdOp EtcdOp::put(std::string key, std::string value, std::int64_t lease) {
  EtcdOp op;
  op.kind = Kind::put;
  op.key = std::move(key);
  op.value = std::move(value);
  op.lease = lease;
  return op;
}

EtcdOp EtcdOp::erase(std::string key) {
  EtcdOp op;
  op.kind = Kind::erase;
  op.key = std::move(key);
  return op;
}

struct EtcdClient::Impl {
  // One member: its channel (made on first use) and, with a user, the token
  // it gave. Tokens of etcd's default ("simple") kind live in the memory of
  // the members: one that restarted knows none, so each keeps its own.
  struct Member {
    EtcdEndpoint endpoint;
    std::string url;
    std::shared_ptr<grpc::Channel> channel;
    std::unique_ptr<pb::KV::Stub> kv;
    std::unique_ptr<pb::Lease::Stub> lease;
    std::unique_ptr<pb::Auth::Stub> auth;
    std::unique_ptr<pb::Maintenance::Stub> maintenance;
    bool authenticated = false;  // Authenticate answered: a token, or auth is off
    std::string token;
  };

  Impl(EtcdOptions opts, milliseconds timeout)
      : options(std::move(opts)), call_timeout(std::max(timeout, milliseconds(1))) {
    if (options.endpoints.empty()) bad("no endpoint");
    if (options.endpoints.size() > kMaxEndpoints) {
      bad("at most " + std::to_string(kMaxEndpoints) + " endpoints");
    }
    const bool tls = options.endpoints.front().tls;
    for (const auto& e : options.endpoints) {
      if (e.tls != tls) bad("every endpoint http:// or every one https://, not both");
    }
    if (options.cert_file.empty() != options.key_file.empty()) {
      throw EtcdConfigError(
          options.cert_file.empty()
              ? "etcd client key \"" + options.key_file + "\" without its certificate"
              : "etcd client certificate \"" + options.cert_file + "\" without its key");
    }
    if (!tls) {
      for (const std::string* f : {&options.ca_file, &options.cert_file, &options.key_file}) {
        if (!f->empty()) {
          throw EtcdConfigError("etcd TLS file \"" + *f + "\" given for http:// endpoints");
        }
      }
    }
    if (!options.ca_file.empty()) ca_pem = read_pem(options.ca_file, "CA file");
    if (!options.cert_file.empty()) cert_pem = read_pem(options.cert_file, "client certificate");
    if (!options.key_file.empty()) key_pem = read_pem(options.key_file, "client key");
    members.reserve(options.endpoints.size());
    for (const auto& e : options.endpoints) {
      Member& m = members.emplace_back();
      m.endpoint = e;
      m.url = e.url();
    }
    attempt_share = std::max(call_timeout / static_cast<long>(members.size()), kMinAttempt);
  }

  void connect(Member& m) {
    if (m.channel) return;
    if (!credentials) {
      if (options.endpoints.front().tls) {
        grpc::SslCredentialsOptions ssl;
        ssl.pem_root_certs = ca_pem;  // empty: gRPC's roots
        ssl.pem_cert_chain = cert_pem;
        ssl.pem_private_key = key_pem;
        credentials = grpc::SslCredentials(ssl);
      } else {
        credentials = grpc::InsecureChannelCredentials();
      }
    }
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, kInitialReconnectBackoffMs);
    args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, kMinReconnectBackoffMs);
    args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, kMaxReconnectBackoffMs);
    args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, kKeepaliveTimeMs);
    args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, kKeepaliveTimeoutMs);
    args.SetInt(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
    // A connection of its own per channel (gRPC shares them process-wide by
    // default): disconnect() really drops it, and two clients never share.
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    m.channel = grpc::CreateCustomChannel(m.endpoint.target(), credentials, args);
    m.kv = pb::KV::NewStub(m.channel);
    m.lease = pb::Lease::NewStub(m.channel);
    m.auth = pb::Auth::NewStub(m.channel);
    m.maintenance = pb::Maintenance::NewStub(m.channel);
  }

  // gRPC takes the system clock; the distance is what counts.
  static std::chrono::system_clock::time_point system_deadline(Deadline deadline) {
    const auto left = std::max(deadline - SteadyClock::now(), SteadyClock::duration::zero());
    return std::chrono::system_clock::now() +
           std::chrono::duration_cast<std::chrono::system_clock::duration>(left);
  }

  static void set_deadline(grpc::ClientContext& ctx, Deadline deadline) {
    ctx.set_deadline(system_deadline(deadline));
  }

  // Waits, until `deadline`, while `m`'s channel connects. gRPC's blocking
  // API moves a connection attempt on only while a call waits on it, and a
  // call that fails fast (a channel in TRANSIENT_FAILURE) does not wait: a
  // member that came back would then not be connected to until a call
  // happened to find its channel connecting. Waiting here lets the attempt
  // finish; a member that refuses still fails at once (TRANSIENT_FAILURE),
  // with gRPC's own words, when the call is made.
  static void await_connection(Member& m, Deadline deadline) {
    grpc_connectivity_state state = m.channel->GetState(true);
    while ((state == GRPC_CHANNEL_IDLE || state == GRPC_CHANNEL_CONNECTING) &&
           SteadyClock::now() < deadline) {
      if (!m.channel->WaitForStateChange(state, system_deadline(deadline))) break;
      state = m.channel->GetState(true);
    }
  }

  // The pause between two rounds over the members, until `until`, spent
  // waiting on the channel of the member tried next when it is not
  // connected: that wait is what lets a reconnection finish (see
  // await_connection(); a channel that failed stays TRANSIENT_FAILURE,
  // failing calls at once, until a connection is READY), so a member that
  // came back is found in the pause and used by the attempt after it.
  static void pause(Member& m, Deadline until) {
    if (m.channel) {
      grpc_connectivity_state state = m.channel->GetState(true);
      while (state != GRPC_CHANNEL_READY && SteadyClock::now() < until &&
             m.channel->WaitForStateChange(state, system_deadline(until))) {
        state = m.channel->GetState(true);
      }
      if (state == GRPC_CHANNEL_READY) return;
    }
    const auto left = until - SteadyClock::now();
    if (left > SteadyClock::duration::zero()) std::this_thread::sleep_for(left);
  }

  // Auth.Authenticate on `m`, within `deadline`. A cluster without auth
  // answers FAILED_PRECONDITION: calls then go without a token (as etcd's
  // own client does), until a member says one is needed.
  grpc::Status authenticate(Member& m, Deadline deadline) const {
    grpc::ClientContext ctx;
    set_deadline(ctx, deadline);
    pb::AuthenticateRequest req;
    req.set_name(options.user);
    req.set_password(options.password);
    pb::AuthenticateResponse resp;
    grpc::Status s = m.auth->Authenticate(&ctx, req, &resp);
    if (s.ok()) {
      m.token = resp.token();
      m.authenticated = true;
    } else if (s.error_code() == grpc::StatusCode::FAILED_PRECONDITION &&
               contains(s.error_message(), "authentication is not enabled")) {
      m.token.clear();
      m.authenticated = true;
      s = grpc::Status::OK;
    }
    return s;
  }

  // Runs `attempt` (grpc::Status(Member&, grpc::ClientContext&)) on the
  // members, as the header says, until it succeeds, an answer says it will
  // not, or call_timeout has passed. Throws EtcdError.
  template <class Attempt>
  void call(const char* method, Attempt&& attempt) {
    const Deadline deadline = SteadyClock::now() + call_timeout;
    const std::size_t n = members.size();
    std::size_t at = current;
    std::size_t moved_on = 0;  // attempts that went to the next member
    std::vector<bool> tried(n, false);
    bool authenticated_again = false;
    std::string failed_url;
    const char* failed_step = method;
    grpc::Status failed;
    for (;;) {
      const Deadline now = SteadyClock::now();
      if (now >= deadline && !failed_url.empty()) break;  // one attempt at least
      const Deadline attempt_deadline =
          now + std::min<SteadyClock::duration>(deadline - now, attempt_share);
      Member& m = members[at];
      connect(m);
      await_connection(m, attempt_deadline);
      tried[at] = true;
      const char* step = method;
      grpc::Status s;
      if (!options.user.empty() && !m.authenticated) {
        step = "Authenticate";
        s = authenticate(m, attempt_deadline);
      }
      if (s.ok()) {
        step = method;
        grpc::ClientContext ctx;
        set_deadline(ctx, attempt_deadline);
        if (!m.token.empty()) ctx.AddMetadata("token", m.token);
        s = attempt(m, ctx);
        if (s.ok()) {
          current = at;
          return;
        }
      }
      failed_url = m.url;
      failed_step = step;
      failed = s;
      const Next next = next_step(s);
      if (next == Next::authenticate && !options.user.empty() && !authenticated_again) {
        // Once per call: a token refused twice is not a stale token.
        authenticated_again = true;
        m.authenticated = false;
        m.token.clear();
        continue;
      }
      if (next != Next::other_endpoint) {
        current = at;  // it answered
        break;
      }
      at = (at + 1) % n;
      if (++moved_on % n == 0) {
        pause(members[at], std::min(deadline, SteadyClock::now() + kRoundPause));
      }
    }
    const auto count = static_cast<std::size_t>(std::count(tried.begin(), tried.end(), true));
    std::string what =
        "etcd " + failed_url + ": " + failed_step + ": " + code_name(failed.error_code());
    if (!failed.error_message().empty()) what += " " + failed.error_message();
    if (count > 1) what += " (" + std::to_string(count) + " endpoints tried)";
    throw EtcdError(what);
  }

  EtcdOptions options;
  milliseconds call_timeout;
  milliseconds attempt_share{};
  std::string ca_pem;
  std::string cert_pem;
  std::string key_pem;
  std::shared_ptr<grpc::ChannelCredentials> credentials;
  std::vector<Member> members;
  std::size_t current = 0;  // the member that answered last
};

EtcdClient::EtcdClient(EtcdOptions options, std::chrono::milliseconds call_timeout)
    : impl_(std::make_unique<Impl>(std::move(options), call_timeout)) {}

EtcdClient::~EtcdClient() = default;

std::int64_t EtcdClient::grant(std::chrono::seconds ttl) {
  pb::LeaseGrantRequest req;
  req.set_ttl(ttl.count());
  pb::LeaseGrantResponse resp;
  impl_->call("LeaseGrant", [&](Impl::Member& m, grpc::ClientContext& ctx) {
    grpc::Status s = m.lease->LeaseGrant(&ctx, req, &resp);
    if (s.ok() && !resp.error().empty()) s = {grpc::StatusCode::UNKNOWN, resp.error()};
    return s;
  });
  return resp.id();
}

std::int64_t EtcdClient::keep_alive(std::int64_t lease) {
  pb::LeaseKeepAliveRequest req;
  req.set_id(lease);
  pb::LeaseKeepAliveResponse resp;
  impl_->call("LeaseKeepAlive", [&](Impl::Member& m, grpc::ClientContext& ctx) -> grpc::Status {
    // The stream lives for this one round trip; the context's deadline
    // bounds every step of it.
    const auto stream = m.lease->LeaseKeepAlive(&ctx);
    const bool answered = stream->Write(req) && stream->Read(&resp);
    if (answered) stream->WritesDone();  // etcd ends the stream on our half-close
    grpc::Status s = stream->Finish();
    if (answered) return grpc::Status::OK;  // the answer counts, however the stream ended
    if (s.ok()) return grpc::Status(grpc::StatusCode::UNAVAILABLE, "the stream ended unanswered");
    return s;
  });
  return resp.ttl();
}

void EtcdClient::revoke(std::int64_t lease) {
  pb::LeaseRevokeRequest req;
  req.set_id(lease);
  pb::LeaseRevokeResponse resp;
  impl_->call("LeaseRevoke", [&](Impl::Member& m, grpc::ClientContext& ctx) -> grpc::Status {
    grpc::Status s = m.lease->LeaseRevoke(&ctx, req, &resp);
    // "requested lease not found": gone already (expired, or an attempt that
    // timed out did revoke it).
    if (s.error_code() == grpc::StatusCode::NOT_FOUND) return grpc::Status::OK;
    return s;
  });
}

std::int64_t EtcdClient::time_to_live(std::int64_t lease) {
  pb::LeaseTimeToLiveRequest req;
  req.set_id(lease);
  pb::LeaseTimeToLiveResponse resp;
  impl_->call("LeaseTimeToLive", [&](Impl::Member& m, grpc::ClientContext& ctx) -> grpc::Status {
    grpc::Status s = m.lease->LeaseTimeToLive(&ctx, req, &resp);
    if (s.error_code() == grpc::StatusCode::NOT_FOUND) {
      resp.set_ttl(-1);
      return grpc::Status::OK;
    }
    return s;
  });
  return resp.ttl();
}

std::vector<EtcdKeyValue> EtcdClient::get(std::string_view key, bool prefix, bool keys_only) {
  pb::RangeRequest req;
  if (prefix && key.empty()) {
    // Every key: etcd takes "\0" to "\0" for the whole key space (an empty
    // key is refused).
    req.set_key(std::string(1, '\0'));
    req.set_range_end(std::string(1, '\0'));
  } else {
    req.set_key(std::string(key));
    if (prefix) req.set_range_end(prefix_end(key));
  }
  req.set_keys_only(keys_only);
  req.set_serializable(false);  // linearizable: through the leader
  pb::RangeResponse resp;
  impl_->call("Range", [&](Impl::Member& m, grpc::ClientContext& ctx) {
    return m.kv->Range(&ctx, req, &resp);
  });
  return from_proto(resp);
}

void EtcdClient::put(std::string_view key, std::string_view value, std::int64_t lease) {
  pb::PutRequest req;
  req.set_key(std::string(key));
  req.set_value(std::string(value));
  req.set_lease(lease);
  pb::PutResponse resp;
  impl_->call("Put", [&](Impl::Member& m, grpc::ClientContext& ctx) {
    return m.kv->Put(&ctx, req, &resp);
  });
}

EtcdTxnResult EtcdClient::txn(const std::vector<EtcdCompare>& compare,
                              const std::vector<EtcdOp>& success,
                              const std::vector<EtcdOp>& failure) {
  pb::TxnRequest req;
  for (const auto& c : compare) to_proto(c, *req.add_compare());
  for (const auto& op : success) to_proto(op, *req.add_success());
  for (const auto& op : failure) to_proto(op, *req.add_failure());
  pb::TxnResponse resp;
  impl_->call("Txn", [&](Impl::Member& m, grpc::ClientContext& ctx) {
    return m.kv->Txn(&ctx, req, &resp);
  });
  EtcdTxnResult out;
  out.succeeded = resp.succeeded();
  out.revision = resp.header().revision();
  out.gets.reserve(static_cast<std::size_t>(resp.responses_size()));
  for (const auto& r : resp.responses()) {
    out.gets.push_back(r.has_response_range() ? from_proto(r.response_range())
                                              : std::vector<EtcdKeyValue>{});
  }
  return out;
}

EtcdStatus EtcdClient::status() {
  pb::StatusRequest req;
  pb::StatusResponse resp;
  std::string url;
  impl_->call("Status", [&](Impl::Member& m, grpc::ClientContext& ctx) {
    url = m.url;
    return m.maintenance->Status(&ctx, req, &resp);
  });
  return EtcdStatus{.endpoint = url,
                    .version = resp.version(),
                    .cluster_id = resp.header().cluster_id(),
                    .member_id = resp.header().member_id(),
                    .leader = resp.leader(),
                    .raft_term = resp.raftterm()};
}

void EtcdClient::disconnect() {
  for (auto& m : impl_->members) {
    m.kv.reset();
    m.lease.reset();
    m.auth.reset();
    m.maintenance.reset();
    m.channel.reset();
    m.authenticated = false;
    m.token.clear();
  }
}

std::string EtcdClient::endpoints_text() const {
  std::string out;
  for (const auto& m : impl_->members) {
    if (!out.empty()) out += ',';
    out += m.url;
  }
  return out;
}

std::string EtcdClient::last_endpoint() const { return impl_->members[impl_->current].url; }

}  // namespace katsubushi::lease
