#include "testing/etcd_server.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <set>
#include <sstream>
#include <stdexcept>
#include <thread>

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include "testing/ports.hpp"
#include "testing/stop_child.hpp"

namespace katsubushi::testing {

namespace {

using namespace std::chrono_literals;
using SteadyClock = std::chrono::steady_clock;

// Every member serving and a leader elected, from launch.
constexpr auto kStartWait = 30s;
// A member started again serving (it catches up with the others first).
constexpr auto kRestartWait = 20s;
// One etcdctl run at most (etcdctl()).
constexpr auto kEtcdctlCap = 10s;
// Whole clusters launched before giving up (a port probed free may be taken
// by another process before etcd binds it).
constexpr int kClusterAttempts = 3;
// Raft timing: elections in about half a second instead of etcd's default
// of seconds, so tests that kill or move a leader stay short.
constexpr const char* kHeartbeatMs = "50";
constexpr const char* kElectionTimeoutMs = "500";
// etcd's tokens (the default, "simple" kind) end after this many seconds
// unused on a member (300 by default), each member counting for itself: a
// client's token goes stale within a test, on the members it does not talk
// to as well as on the one it left idle.
constexpr const char* kAuthTokenTtlS = "2";

struct RunResult {
  int exit_code = -1;  // -1: killed by a signal, or by the time cap
  std::string out;
  std::string err;
};

std::string trimmed(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' ')) {
    text.pop_back();
  }
  return text;
}

// The full path of `program` on PATH, or "" when it is not there.
std::string find_on_path(const std::string& program) {
  const char* path = std::getenv("PATH");
  std::string_view dirs = path != nullptr ? path : "/usr/bin:/bin";
  while (!dirs.empty()) {
    const auto colon = dirs.find(':');
    const std::string dir(dirs.substr(0, colon));
    std::string full = (dir.empty() ? "." : dir) + "/" + program;
    if (::access(full.c_str(), X_OK) == 0) return full;
    if (colon == std::string_view::npos) break;
    dirs = dirs.substr(colon + 1);
  }
  return {};
}

// The environment children get: ours without ETCD_* and ETCDCTL_* (etcd and
// etcdctl read their flags from those too), and ETCDCTL_API=3.
std::vector<std::string> child_environment() {
  std::vector<std::string> env;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    const std::string_view entry(*e);
    if (entry.starts_with("ETCD_") || entry.starts_with("ETCDCTL_")) continue;
    env.emplace_back(entry);
  }
  env.emplace_back("ETCDCTL_API=3");
  return env;
}

std::vector<char*> pointers(std::vector<std::string>& strings) {
  std::vector<char*> out;
  out.reserve(strings.size() + 1);
  for (auto& s : strings) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

// Forks and execs `argv` (argv[0] looked up on PATH first: nothing between
// fork and exec allocates, the test process has threads), with stdout and
// stderr on `out_fd` and `err_fd` (-1: /dev/null). The child dies with us and
// keeps none of our other descriptors.
pid_t spawn(std::vector<std::string> argv, int out_fd, int err_fd) {
  const std::string program = find_on_path(argv.at(0));
  if (program.empty()) throw std::runtime_error(argv[0] + " is not on PATH");
  std::vector<std::string> env = child_environment();
  const std::vector<char*> args = pointers(argv);
  const std::vector<char*> envp = pointers(env);
  const pid_t pid = ::fork();
  if (pid == 0) {
    const int null = ::open("/dev/null", O_RDWR);
    ::dup2(null, STDIN_FILENO);
    ::dup2(out_fd >= 0 ? out_fd : null, STDOUT_FILENO);
    ::dup2(err_fd >= 0 ? err_fd : null, STDERR_FILENO);
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    for (int fd = 3; fd < 1024; ++fd) ::close(fd);
    ::execve(program.c_str(), args.data(), envp.data());
    ::_exit(127);
  }
  if (pid < 0) throw std::runtime_error("fork failed");
  return pid;
}

// Runs `argv` to its end, or kills it once `cap` has passed.
RunResult run(const std::vector<std::string>& argv, std::chrono::milliseconds cap) {
  int out[2] = {-1, -1};
  int err[2] = {-1, -1};
  if (::pipe2(out, O_CLOEXEC) != 0 || ::pipe2(err, O_CLOEXEC) != 0) {
    throw std::runtime_error("pipe failed");
  }
  pid_t pid = -1;
  try {
    pid = spawn(argv, out[1], err[1]);
  } catch (...) {
    for (const int fd : {out[0], out[1], err[0], err[1]}) ::close(fd);
    throw;
  }
  ::close(out[1]);
  ::close(err[1]);
  RunResult result;
  const auto until = SteadyClock::now() + cap;
  std::array<pollfd, 2> fds = {pollfd{out[0], POLLIN, 0}, pollfd{err[0], POLLIN, 0}};
  std::array<char, 4096> buf{};
  bool timed_out = false;
  while (fds[0].fd >= 0 || fds[1].fd >= 0) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(until - SteadyClock::now());
    if (left.count() <= 0) {
      timed_out = true;
      break;
    }
    if (::poll(fds.data(), fds.size(), static_cast<int>(left.count())) < 0 && errno != EINTR) {
      break;
    }
    for (std::size_t i = 0; i < fds.size(); ++i) {
      if (fds[i].fd < 0 || fds[i].revents == 0) continue;
      const ssize_t n = ::read(fds[i].fd, buf.data(), buf.size());
      if (n > 0) {
        (i == 0 ? result.out : result.err).append(buf.data(), static_cast<std::size_t>(n));
      } else if (n == 0 || errno != EINTR) {
        ::close(fds[i].fd);
        fds[i].fd = -1;
      }
    }
  }
  for (const auto& p : fds) {
    if (p.fd >= 0) ::close(p.fd);
  }
  if (timed_out) ::kill(pid, SIGKILL);
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (!timed_out && WIFEXITED(status)) result.exit_code = WEXITSTATUS(status);
  if (timed_out) result.err += "(killed after " + std::to_string(cap.count()) + " ms)";
  result.out = trimmed(std::move(result.out));
  result.err = trimmed(std::move(result.err));
  return result;
}

// Whether `pid` (our child) has ended, without reaping it: kill() and the
// destructor still wait for it.
bool exited(pid_t pid) {
  siginfo_t info{};
  return ::waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG | WNOWAIT) == 0 &&
         info.si_pid == pid;
}

// What an error message shows of etcdctl's arguments: passwords masked.
std::string describe(const std::vector<std::string>& args) {
  std::string out = "etcdctl";
  for (const auto& a : args) {
    const auto eq = a.find("password=");
    out += " " + (eq == std::string::npos ? a : a.substr(0, eq + 9) + "***");
  }
  return out;
}

std::string base64_decode(std::string_view in) {
  std::string out;
  unsigned bits = 0;
  int count = 0;
  for (const char c : in) {
    int v = -1;
    if (c >= 'A' && c <= 'Z') v = c - 'A';
    if (c >= 'a' && c <= 'z') v = c - 'a' + 26;
    if (c >= '0' && c <= '9') v = c - '0' + 52;
    if (c == '+') v = 62;
    if (c == '/') v = 63;
    if (v < 0) continue;  // '=' padding
    bits = (bits << 6U) | static_cast<unsigned>(v);
    count += 6;
    if (count >= 8) {
      count -= 8;
      out += static_cast<char>((bits >> static_cast<unsigned>(count)) & 0xffU);
    }
  }
  return out;
}

std::uint64_t json_u64(const boost::json::value& v) {
  if (v.is_uint64()) return v.get_uint64();
  if (v.is_int64()) return static_cast<std::uint64_t>(v.get_int64());
  return 0;
}

std::string hex(std::uint64_t v) {
  std::array<char, 17> buf{};
  const auto [end, ec] = std::to_chars(buf.data(), buf.data() + buf.size(), v, 16);
  return {buf.data(), end};
}

// etcdctl's arguments up to the command: where, how long, TLS, and root's
// login once auth is on.
std::vector<std::string> etcdctl_argv(const std::string& endpoints,
                                      const std::optional<EtcdTlsFiles>& tls,
                                      const std::string& root_password, const char* dial_timeout,
                                      const char* command_timeout) {
  std::vector<std::string> argv = {"etcdctl", "--endpoints=" + endpoints,
                                   std::string("--dial-timeout=") + dial_timeout,
                                   std::string("--command-timeout=") + command_timeout};
  if (tls) {
    argv.insert(argv.end(),
                {"--cacert=" + tls->ca, "--cert=" + tls->client_cert, "--key=" + tls->client_key});
  }
  if (!root_password.empty()) argv.push_back("--user=root:" + root_password);
  return argv;
}

// openssl's configuration for the test certificates: a CA, a server
// certificate for 127.0.0.1 and localhost (also a client one: etcd 3.4's
// gateway dials its own gRPC port with it when clients must show a
// certificate), and a client certificate.
constexpr const char* kOpensslConfig = R"([req]
distinguished_name = dn
prompt = no
[dn]
CN = katsubushi-test
[ca_ext]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
[server_ext]
basicConstraints = CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = serverAuth,clientAuth
subjectAltName = IP:127.0.0.1,DNS:localhost
[client_ext]
basicConstraints = CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = clientAuth
)";

}  // namespace

bool etcd_available() { return !find_on_path("etcd").empty() && !find_on_path("etcdctl").empty(); }

EtcdCluster::EtcdCluster(EtcdClusterOptions options) : options_(options) {
  if (options_.members != 1 && options_.members != 3) {
    throw std::invalid_argument("EtcdCluster: 1 or 3 members");
  }
  std::string templ = std::filesystem::temp_directory_path().string() + "/katsubushi-etcd-XXXXXX";
  if (::mkdtemp(templ.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  dir_ = templ;
  std::string why;
  try {
    if (options_.tls) {
      const std::string t = dir_ + "/tls/";
      std::filesystem::create_directory(t);
      std::ofstream(t + "openssl.cnf") << kOpensslConfig;
      const std::vector<std::string> key = {"-newkey", "ec", "-pkeyopt",
                                            "ec_paramgen_curve:prime256v1", "-nodes"};
      const auto openssl = [](std::vector<std::string> args) {
        args.insert(args.begin(), "openssl");
        const RunResult r = run(args, 20s);
        if (r.exit_code != 0) throw std::runtime_error("openssl " + args[1] + ": " + r.err);
      };
      std::vector<std::string> ca = {
          "req",        "-x509", "-new",      "-config", t + "openssl.cnf",        "-extensions",
          "ca_ext",     "-days", "2",         "-subj",   "/CN=katsubushi-test-ca", "-keyout",
          t + "ca.key", "-out",  t + "ca.crt"};
      ca.insert(ca.end(), key.begin(), key.end());
      openssl(ca);
      int serial = 1;
      for (const std::string& name : {std::string("server"), std::string("client")}) {
        std::vector<std::string> csr = {"req",     "-new",
                                        "-config", t + "openssl.cnf",
                                        "-subj",   "/CN=katsubushi-test-" + name,
                                        "-keyout", t + name + ".key",
                                        "-out",    t + name + ".csr"};
        csr.insert(csr.end(), key.begin(), key.end());
        openssl(csr);
        openssl({"x509", "-req", "-in", t + name + ".csr", "-CA", t + "ca.crt", "-CAkey",
                 t + "ca.key", "-set_serial", std::to_string(++serial), "-days", "2", "-extfile",
                 t + "openssl.cnf", "-extensions", name + "_ext", "-out", t + name + ".crt"});
      }
      tls_ = EtcdTlsFiles{
          .ca = t + "ca.crt", .client_cert = t + "client.crt", .client_key = t + "client.key"};
      server_cert_ = t + "server.crt";
      server_key_ = t + "server.key";
    }
    // The dir's unique name keeps this cluster's members from ever taking
    // another's for a peer.
    const std::string token = std::filesystem::path(dir_).filename().string();
    for (int attempt = 0; attempt < kClusterAttempts; ++attempt) {
      members_.clear();
      std::set<std::uint16_t> ports;
      const auto port = [&ports] {
        for (int i = 0; i < 100; ++i) {
          const std::uint16_t p = free_tcp_port();
          if (p != 0 && ports.insert(p).second) return p;
        }
        throw std::runtime_error("no free loopback port");
      };
      for (int i = 0; i < options_.members; ++i) {
        Member m;
        m.name = token + "-" + std::to_string(attempt) + "-m" + std::to_string(i);
        m.client_port = port();
        m.peer_port = port();
        m.data_dir = dir_ + "/" + m.name;
        m.log_file = dir_ + "/" + m.name + ".log";
        members_.push_back(std::move(m));
      }
      for (int i = 0; i < size(); ++i) launch(i, true);
      const auto until = SteadyClock::now() + kStartWait;
      bool up = true;
      for (int i = 0; i < size() && up; ++i) {
        const auto left =
            std::chrono::duration_cast<std::chrono::milliseconds>(until - SteadyClock::now());
        up = wait_serving(i, static_cast<int>(std::max<long>(left.count(), 0)));
        if (!up) why = "member " + std::to_string(i) + " did not serve: " + log_tail(i);
      }
      if (up) return;
      for (int i = 0; i < size(); ++i) kill(i);
    }
  } catch (const std::exception& e) {
    why = e.what();
  }
  for (int i = 0; i < size(); ++i) kill(i);
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
  throw std::runtime_error("etcd did not start: " + why);
}

EtcdCluster::~EtcdCluster() {
  for (int i = 0; i < size(); ++i) kill(i);
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

std::string EtcdCluster::endpoint(int member) const {
  return std::string(options_.tls ? "https" : "http") +
         "://127.0.0.1:" + std::to_string(client_port(member));
}

std::uint16_t EtcdCluster::client_port(int member) const {
  return members_.at(static_cast<std::size_t>(member)).client_port;
}

std::string EtcdCluster::endpoints() const {
  std::string out;
  for (int i = 0; i < size(); ++i) out += (i > 0 ? "," : "") + endpoint(i);
  return out;
}

std::string EtcdCluster::initial_cluster() const {
  std::string out;
  for (const auto& m : members_) {
    if (!out.empty()) out += ',';
    out += m.name + "=http://127.0.0.1:" + std::to_string(m.peer_port);
  }
  return out;
}

void EtcdCluster::launch(int member, bool new_cluster) {
  Member& m = members_.at(static_cast<std::size_t>(member));
  const std::string client = endpoint(member);
  const std::string peer = "http://127.0.0.1:" + std::to_string(m.peer_port);
  std::vector<std::string> args = {"etcd",
                                   "--name",
                                   m.name,
                                   "--data-dir",
                                   m.data_dir,
                                   "--listen-client-urls",
                                   client,
                                   "--advertise-client-urls",
                                   client,
                                   "--listen-peer-urls",
                                   peer,
                                   "--initial-advertise-peer-urls",
                                   peer,
                                   "--initial-cluster",
                                   initial_cluster(),
                                   "--initial-cluster-state",
                                   new_cluster ? "new" : "existing",
                                   "--initial-cluster-token",
                                   std::filesystem::path(dir_).filename().string(),
                                   "--heartbeat-interval",
                                   kHeartbeatMs,
                                   "--election-timeout",
                                   kElectionTimeoutMs,
                                   "--auth-token-ttl",
                                   kAuthTokenTtlS,
                                   "--logger",
                                   "zap",
                                   "--log-outputs",
                                   m.log_file};
  // etcd 3.4 has no --unsafe-no-fsync (3.5 has): the data is fsynced, on a
  // test's temp directory.
  if (tls_) {
    args.insert(args.end(), {"--cert-file", server_cert_, "--key-file", server_key_,
                             "--trusted-ca-file", tls_->ca, "--client-cert-auth"});
  }
  // What etcd writes before its logger is set up (a bad flag) goes there too.
  const int log = ::open(m.log_file.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  try {
    m.pid = spawn(args, log, log);
  } catch (...) {
    if (log >= 0) ::close(log);
    throw;
  }
  if (log >= 0) ::close(log);
  m.paused = false;
}

bool EtcdCluster::wait_serving(int member, int timeout_ms) const {
  const Member& m = members_.at(static_cast<std::size_t>(member));
  const auto until = SteadyClock::now() + std::chrono::milliseconds(timeout_ms);
  // `endpoint health` is a linearizable read: it passes once the member
  // has a leader and has caught up with it.
  std::vector<std::string> argv = etcdctl_argv(endpoint(member), tls_, root_password_, "1s", "1s");
  argv.insert(argv.end(), {"endpoint", "health"});
  while (SteadyClock::now() < until) {
    if (m.pid <= 0 || exited(m.pid)) return false;
    if (run(argv, 5s).exit_code == 0) return true;
    std::this_thread::sleep_for(50ms);
  }
  return false;
}

std::string EtcdCluster::log_tail(int member) const {
  std::ifstream in(members_.at(static_cast<std::size_t>(member)).log_file);
  std::stringstream text;
  text << in.rdbuf();
  const std::string all = text.str();
  constexpr std::size_t kTail = 3000;
  return all.size() > kTail ? "..." + all.substr(all.size() - kTail) : all;
}

void EtcdCluster::kill(int member) {
  Member& m = members_.at(static_cast<std::size_t>(member));
  if (m.pid <= 0) return;
  ::kill(m.pid, SIGKILL);  // a stopped (paused) process dies of SIGKILL too
  int status = 0;
  ::waitpid(m.pid, &status, 0);
  m.pid = -1;
  m.paused = false;
}

void EtcdCluster::start(int member) {
  if (running(member)) return;
  // The ports were this member's a moment ago; if something took one since,
  // etcd exits and is tried again until the time is up.
  const auto until = SteadyClock::now() + kRestartWait;
  while (SteadyClock::now() < until) {
    launch(member, false);
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(until - SteadyClock::now());
    if (wait_serving(member, static_cast<int>(std::max<long>(left.count(), 0)))) return;
    kill(member);
    std::this_thread::sleep_for(100ms);
  }
  throw std::runtime_error("etcd member " + std::to_string(member) +
                           " did not serve again: " + log_tail(member));
}

void EtcdCluster::pause(int member) {
  Member& m = members_.at(static_cast<std::size_t>(member));
  if (m.pid > 0 && !m.paused) {
    stop_child(m.pid);
    m.paused = true;
  }
}

void EtcdCluster::resume(int member) {
  Member& m = members_.at(static_cast<std::size_t>(member));
  if (m.pid > 0 && m.paused) {
    ::kill(m.pid, SIGCONT);
    m.paused = false;
  }
}

bool EtcdCluster::running(int member) const {
  return members_.at(static_cast<std::size_t>(member)).pid > 0;
}

namespace {

// What `etcdctl endpoint status -w json` says of each member that answered:
// its own id and the id it takes for the leader's.
struct MemberView {
  std::uint64_t id = 0;
  std::uint64_t leader = 0;
};

}  // namespace

int EtcdCluster::leader() const {
  std::vector<std::optional<MemberView>> views(members_.size());
  // Each member is asked on its own: one that cannot answer (stopping,
  // paused) does not hide the others.
  std::vector<std::string> endpoints;
  for (int i = 0; i < size(); ++i) {
    if (running(i) && !members_[static_cast<std::size_t>(i)].paused) {
      endpoints.push_back(endpoint(i));
    }
  }
  if (endpoints.empty()) return -1;
  std::string list;
  for (const auto& e : endpoints) list += (list.empty() ? "" : ",") + e;
  std::vector<std::string> argv = etcdctl_argv(list, tls_, root_password_, "1s", "1s");
  argv.insert(argv.end(), {"endpoint", "status", "-w", "json"});
  const RunResult r = run(argv, kEtcdctlCap);
  // Members that did not answer are left out of the list (and said so on
  // stderr, with a non-zero exit): what the others said still counts.
  boost::json::value doc;
  try {
    doc = boost::json::parse(r.out);
  } catch (const std::exception&) {
    return -1;
  }
  if (!doc.is_array()) return -1;
  for (const auto& entry : doc.as_array()) {
    if (!entry.is_object()) continue;
    const auto& o = entry.as_object();
    const auto* ep = o.if_contains("Endpoint");
    const auto* st = o.if_contains("Status");
    if (ep == nullptr || !ep->is_string() || st == nullptr || !st->is_object()) continue;
    const auto& so = st->as_object();
    const auto* header = so.if_contains("header");
    const auto* lead = so.if_contains("leader");
    if (header == nullptr || !header->is_object() || lead == nullptr) continue;
    const auto* id = header->as_object().if_contains("member_id");
    if (id == nullptr) continue;
    for (int i = 0; i < size(); ++i) {
      if (endpoint(i) == ep->as_string()) {
        views[static_cast<std::size_t>(i)] = MemberView{json_u64(*id), json_u64(*lead)};
      }
    }
  }
  // The member that says it leads.
  for (std::size_t i = 0; i < views.size(); ++i) {
    if (views[i] && views[i]->id != 0 && views[i]->id == views[i]->leader) {
      return static_cast<int>(i);
    }
  }
  return -1;
}

void EtcdCluster::move_leader(int member) {
  const auto until = SteadyClock::now() + 15s;
  std::string last_error = "no leader";
  while (SteadyClock::now() < until) {
    const int current = leader();
    if (current == member) return;
    if (current < 0) {
      std::this_thread::sleep_for(50ms);
      continue;
    }
    // The target's id, as it says itself.
    std::vector<std::string> status =
        etcdctl_argv(endpoint(member), tls_, root_password_, "1s", "1s");
    std::vector<std::string> move =
        etcdctl_argv(endpoint(current), tls_, root_password_, "1s", "5s");
    status.insert(status.end(), {"endpoint", "status", "-w", "json"});
    const RunResult s = run(status, kEtcdctlCap);
    std::uint64_t id = 0;
    try {
      const auto doc = boost::json::parse(s.out);
      id = json_u64(doc.at(0).at("Status").at("header").at("member_id"));
    } catch (const std::exception&) {
      last_error = "member " + std::to_string(member) + " gave no status: " + s.err;
      std::this_thread::sleep_for(50ms);
      continue;
    }
    move.insert(move.end(), {"move-leader", hex(id)});
    const RunResult r = run(move, kEtcdctlCap);
    if (r.exit_code != 0) last_error = r.err;
    const auto settle = SteadyClock::now() + 5s;
    while (SteadyClock::now() < settle && SteadyClock::now() < until) {
      if (leader() == member) return;
      std::this_thread::sleep_for(50ms);
    }
  }
  throw std::runtime_error("the lead did not move to member " + std::to_string(member) + ": " +
                           last_error);
}

std::string EtcdCluster::etcdctl(const std::vector<std::string>& args) const {
  std::string list;
  for (int i = 0; i < size(); ++i) {
    if (running(i) && !members_[static_cast<std::size_t>(i)].paused) {
      list += (list.empty() ? "" : ",") + endpoint(i);
    }
  }
  if (list.empty()) throw std::runtime_error(describe(args) + ": no member running");
  std::vector<std::string> argv = etcdctl_argv(list, tls_, root_password_, "2s", "5s");
  argv.insert(argv.end(), args.begin(), args.end());
  const RunResult r = run(argv, kEtcdctlCap);
  if (r.exit_code != 0) {
    throw std::runtime_error(describe(args) + ": exit " + std::to_string(r.exit_code) + ": " +
                             r.err);
  }
  return r.out;
}

std::optional<std::string> EtcdCluster::get(const std::string& key) const {
  const auto doc = boost::json::parse(etcdctl({"get", "-w", "json", "--", key}));
  const auto* kvs = doc.as_object().if_contains("kvs");
  if (kvs == nullptr || !kvs->is_array() || kvs->as_array().empty()) return std::nullopt;
  const auto* value = kvs->as_array().at(0).as_object().if_contains("value");
  if (value == nullptr || !value->is_string()) return std::string();  // an empty value
  return base64_decode(value->as_string());
}

void EtcdCluster::put(const std::string& key, const std::string& value) const {
  etcdctl({"put", "--", key, value});
}

void EtcdCluster::enable_auth(const std::string& user, const std::string& password,
                              const std::string& prefix, const std::string& root_password) {
  etcdctl({"user", "add", "root", "--new-user-password=" + root_password, "--interactive=false"});
  etcdctl({"user", "add", user, "--new-user-password=" + password, "--interactive=false"});
  etcdctl({"role", "add", "r"});
  etcdctl({"role", "grant-permission", "r", "--prefix=true", "readwrite", prefix});
  etcdctl({"user", "grant-role", user, "r"});
  // etcdctl grants root the root role itself when auth enable asks for it.
  etcdctl({"auth", "enable"});
  root_password_ = root_password;
}

}  // namespace katsubushi::testing
