// Every limit and default of the daemon, named once. Constants only: the
// protocol core, the server and the flag table all read them from here, and a
// unit test checks the README's Limits and Flags tables against them.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>

namespace katsubushi::config {

inline constexpr std::size_t kKiB = 1024;
inline constexpr std::size_t kMiB = 1024 * kKiB;

// The values a numeric flag accepts, both ends included.
struct IntRange {
  std::uint64_t min;
  std::uint64_t max;
};

// -port; 0 picks a free port.
inline constexpr std::uint16_t kDefaultPort = 11212;
inline constexpr IntRange kPortRange{0, 65535};

// -max-line-bytes: a longer request line gets CLIENT_ERROR and a close.
inline constexpr std::size_t kDefaultMaxLineBytes = 64 * kKiB;
inline constexpr IntRange kMaxLineBytesRange{512, 16 * kMiB};

// -max-connections: one more gets SERVER_ERROR and a close.
inline constexpr std::uint32_t kDefaultMaxConnections = 4096;
inline constexpr IntRange kMaxConnectionsRange{1, 1'000'000};

// -threads (default: the number of cores).
inline constexpr IntRange kThreadsRange{1, 1024};

// -spin-wait: how long a serving thread whose recent waits were shorter than
// this looks for work before it sleeps (the io_uring build; 0 = never);
// server/spin_wait.hpp says when it spins. More than the maximum would hold a
// core for nothing on a daemon between bursts.
inline constexpr std::chrono::microseconds kDefaultSpinWait{50};
inline constexpr std::chrono::milliseconds kMaxSpinWait{1};

// -idle-timeout and -shutdown-timeout.
inline constexpr std::chrono::seconds kDefaultIdleTimeout{600};
inline constexpr std::chrono::seconds kDefaultShutdownTimeout{10};

// -max-keys-per-get: a get or gets with more keys is answered
// CLIENT_ERROR. The default is more than the default line can hold.
inline constexpr std::size_t kDefaultMaxKeysPerGet = 32 * kKiB;
inline constexpr IntRange kMaxKeysPerGetRange{1, 8 * kMiB};

// Output a connection may owe before the server stops answering its requests
// (a many-key get stops mid-way) until the client has read some.
inline constexpr std::size_t kMaxOutputBytes = 64 * kKiB;
// Most replies a TCP connection leaves unsent in the kernel (TCP_NOTSENT_LOWAT):
// a client that reads slowly pins this much of the kernel's memory, plus what
// is in flight, instead of a send buffer autotuned to 4 MiB.
inline constexpr std::size_t kKernelUnsentBytes = 128 * kKiB;
// Largest storage data block swallowed to keep a text stream in sync; a
// larger one is refused and the connection closed.
inline constexpr std::size_t kMaxDataBlockBytes = 1 * kMiB;

// Reads: a connection waiting for a request reads into an array of its own of
// kOwnReadBytes (a request of one or a few keys fits, so an idle connection
// needs no other buffer); after a full one it reads on into its thread's
// buffer of kThreadReadBufferBytes.
inline constexpr std::size_t kOwnReadBytes = 64;
inline constexpr std::size_t kThreadReadBufferBytes = 64 * kKiB;
// What one connection reads in one turn of its thread's loop before the
// others get theirs.
inline constexpr std::size_t kReadBytesPerTurn = 1 * kMiB;
// What one connection writes in one turn (making replies as it goes) before
// the others get theirs.
inline constexpr std::size_t kWriteBytesPerTurn = 64 * kKiB;

// After its last reply a connection half-closes and drains what the client
// still sends, for at most this long and this much, so the kernel does not
// answer with a reset that destroys replies the client has not read yet.
inline constexpr std::chrono::milliseconds kLingerTimeout{1000};
inline constexpr std::size_t kLingerMaxBytes = 1 * kMiB;

// At a graceful stop, gRPC calls in flight may finish for this long (within
// -shutdown-timeout); then gRPC closes its connections. Every call the daemon
// serves ends sooner (a Fetch waits at most 1 s for a clock behind), and a
// client that ignores GOAWAY holds the stop no longer than this.
inline constexpr std::chrono::milliseconds kGrpcStopGrace{2000};

// HTTP (the main port when sniffed, and -http-port). A request line plus
// header fields over this gets 431 and a close; Beast's parser holds at most
// this much of a request at once.
inline constexpr std::size_t kHttpMaxHeaderBytes = 8 * kKiB;
// Request bodies are read and thrown away (no route takes one); a longer one
// gets 413 and a close.
inline constexpr std::size_t kHttpMaxBodyBytes = 64 * kKiB;
// Requests on one keep-alive connection: the last one is answered with
// `Connection: close`, then the connection closes.
inline constexpr std::uint64_t kHttpMaxRequestsPerConnection = 1000;
// Most ids one `GET /ids?n=N` may ask for (go-katsubushi's MaxHTTPBulkSize).
inline constexpr std::uint32_t kHttpMaxIdsPerRequest = 1000;

// -state-file reservations: ids carry timestamps below a reserved-until mark
// kept about kReserveAhead ahead of the clock, rewritten (temp file, fsync,
// rename, directory fsync) once less than kReserveRewriteWithin is left; the
// writer looks every kReservePoll. A crash costs a restart at most
// kReserveAhead of waiting.
inline constexpr std::chrono::milliseconds kReserveAhead{2000};
inline constexpr std::chrono::milliseconds kReserveRewriteWithin{1000};
inline constexpr std::chrono::milliseconds kReservePoll{100};
// -max-clock-wait: a clock behind the stored mark by less than this is waited
// for at start (ids refused meanwhile); by more, the daemon does not start.
inline constexpr std::chrono::seconds kDefaultMaxClockWait{10};

// -lease-ttl: the expiry of a worker-id key in Redis. Whole seconds, at
// least kMinLeaseTtl. go-katsubushi uses 600 s (raus.LockExpires); here a
// lease is also how long a holder may go on without the store, and so how
// long a claim that finds no fence (the store lost it) waits before its
// first id: 30 s makes that 22.5 s + 2 x -max-clock-skew, and a dead
// holder's id free again after 30 s (README, "Worker ids from Redis").
inline constexpr std::chrono::seconds kDefaultLeaseTtl{30};
inline constexpr std::chrono::seconds kMinLeaseTtl{2};
// -max-clock-skew: how far our clock may be from the store's (Redis TIME),
// and the kernel's error bound may reach when it is synchronised, while
// worker ids are claimed and ids issued.
inline constexpr std::chrono::milliseconds kDefaultMaxClockSkew{1000};
// -redis-wait-replicas: replicas that must acknowledge a fence (WAIT).
inline constexpr IntRange kWaitReplicasRange{0, 64};

// How long accept() waits after running out of file descriptors or memory.
inline constexpr std::chrono::milliseconds kAcceptBackoff{100};

}  // namespace katsubushi::config
