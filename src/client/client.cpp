#include <algorithm>
#include <new>
#include <utility>

#include "client/client_impl.hpp"
#include "client/grpc_hook.hpp"
#include "client/server_address.hpp"

namespace katsubushi::client {
namespace {

class ClientCategory final : public std::error_category {
 public:
  const char* name() const noexcept override { return "katsubushi.client"; }
  std::string message(int v) const override {
    switch (static_cast<Errc>(v)) {
      case Errc::no_server_answered:
        return "no server gave an id within the deadline";
      case Errc::invalid_argument:
        return "invalid argument";
      case Errc::bad_server_list:
        return "bad server list";
    }
    return "unknown error";
  }
};

FailoverOptions failover_options(const Options& o) {
  return {.tries_per_server = o.tries_per_server,
          .try_timeout = o.try_timeout,
          .max_future_skew = o.max_future_skew,
          .backoff = {.initial = o.backoff_initial, .max = o.backoff_max, .jitter = 0.2}};
}

Fetched failure(std::error_code code, std::vector<ServerFailure> failures = {}) {
  Fetched f;
  f.error = code;
  f.failures = std::move(failures);
  return f;
}

}  // namespace

const std::error_category& client_category() noexcept {
  static const ClientCategory category;
  return category;
}

std::error_code make_error_code(Errc e) noexcept {
  return {static_cast<int>(e), client_category()};
}

std::string Fetched::message() const {
  if (!error) return "ok";
  std::string text = error.message();
  if (error == Errc::invalid_argument) {
    text += ": n must be from 1 to " + std::to_string(kMaxIdsPerCall);
  }
  for (std::size_t i = 0; i < failures.size(); ++i) {
    text += i == 0 ? ": " : "; ";
    text += failures[i].server + ": " + failures[i].reason;
  }
  return text;
}

Error::Error(std::error_code code, const std::string& what, std::vector<ServerFailure> failures)
    : std::runtime_error(what), code_(code), failures_(std::move(failures)) {}

std::string check_options(const Options& o) {
  using std::chrono::milliseconds;
  if (o.deadline <= milliseconds(0)) return "deadline must be positive";
  if (o.connect_timeout <= milliseconds(0)) return "connect_timeout must be positive";
  if (o.try_timeout <= milliseconds(0)) return "try_timeout must be positive";
  if (o.tries_per_server < 1 || o.tries_per_server > 100) return "tries_per_server must be 1..100";
  if (o.backoff_initial < milliseconds(1) || o.backoff_max < o.backoff_initial) {
    return "backoff_initial must be at least 1 ms and backoff_max at least backoff_initial";
  }
  if (o.prefetch > kMaxPrefetch) return "prefetch must be at most " + std::to_string(kMaxPrefetch);
  if (o.prefetch > 0 && o.prefetch_max_age <= milliseconds(0)) {
    return "prefetch_max_age must be positive";
  }
  if (o.max_future_skew < milliseconds(0)) return "max_future_skew must not be negative";
  return {};
}

Client::Impl::Impl(std::vector<NamedTransport> transports, const Options& opts, const Clock& c)
    : options(opts),
      clock(c),
      failover(std::move(transports), failover_options(opts), c),
      prefetch(opts.prefetch, opts.prefetch_max_age) {
  for (std::size_t i = 0; i < failover.size(); ++i) names.push_back(failover.name(i));
}

Fetched Client::Impl::fetch(std::size_t n) {
  if (n == 0 || n > kMaxIdsPerCall) return failure(Errc::invalid_argument);
  const auto deadline = clock.now() + options.deadline;
  Fetched out;
  out.ids.reserve(n);
  if (options.prefetch > 0) {
    const std::lock_guard lock(mutex);
    prefetch.take(n, clock.now(), out.ids);
  }
  while (out.ids.size() < n) {
    const std::size_t need = n - out.ids.size();
    std::size_t ahead = 0;
    if (options.prefetch > 0) {
      const std::lock_guard lock(mutex);
      ahead = prefetch.room(clock.now());
    }
    const std::size_t ask = std::min(need + ahead, kMaxIdsPerRequest);
    auto batch = failover.fetch(ask, deadline);
    failed_tries += batch.failed_tries;
    refused += batch.refused_ids;
    if (batch.ids.empty()) {
      // What this call already holds is handed to nobody: counted, not reused
      // (ids from the buffer have lost their age).
      discarded += out.ids.size();
      return failure(Errc::no_server_answered, std::move(batch.failures));
    }
    fetched += batch.ids.size();
    const std::size_t mine = std::min(need, batch.ids.size());
    out.ids.insert(out.ids.end(), batch.ids.begin(),
                   batch.ids.begin() + static_cast<std::ptrdiff_t>(mine));
    if (batch.ids.size() > mine) {
      const std::span<const std::uint64_t> rest(batch.ids.data() + mine, batch.ids.size() - mine);
      std::size_t kept = 0;
      {
        const std::lock_guard lock(mutex);
        kept = prefetch.put(rest, clock.now());
      }
      discarded += rest.size() - kept;
    }
  }
  handed_out += out.ids.size();
  return out;
}

Client::Client(std::string_view servers, Options options) {
  auto parsed = parse_server_list(servers);
  if (!parsed.error.empty()) throw Error(Errc::bad_server_list, parsed.error);
  if (auto why = check_options(options); !why.empty()) throw Error(Errc::invalid_argument, why);
  std::vector<NamedTransport> transports;
  for (const auto& s : parsed.servers) {
    std::string error;
    auto transport = make_transport(s, options, error);
    if (!transport) throw Error(Errc::bad_server_list, error);
    transports.push_back({s.name, std::move(transport)});
  }
  impl_ = std::make_unique<Impl>(std::move(transports), options, system_clock());
}

Client::Client(std::unique_ptr<Impl> impl) noexcept : impl_(std::move(impl)) {}
Client::~Client() = default;
Client::Client(Client&&) noexcept = default;
Client& Client::operator=(Client&&) noexcept = default;

Fetched Client::try_fetch(std::size_t n) noexcept {
  try {
    return impl_->fetch(n);
  } catch (const std::bad_alloc&) {
    return failure(std::make_error_code(std::errc::not_enough_memory));
  }
}

std::vector<std::uint64_t> Client::fetch_multi(std::size_t n) {
  auto got = impl_->fetch(n);
  if (!got) {
    const auto message = got.message();  // before the failures are moved away
    throw Error(got.error, message, std::move(got.failures));
  }
  return std::move(got.ids);
}

std::uint64_t Client::fetch() { return fetch_multi(1).front(); }

ClientStats Client::stats() const {
  ClientStats s;
  s.ids_handed_out = impl_->handed_out;
  s.ids_fetched = impl_->fetched;
  s.ids_refused = impl_->refused;
  s.ids_discarded = impl_->discarded;
  s.server_failures = impl_->failed_tries;
  const std::lock_guard lock(impl_->mutex);
  s.prefetch_expired = impl_->prefetch.expired();
  s.prefetched = impl_->prefetch.size();
  return s;
}

std::vector<std::string> Client::servers() const { return impl_->names; }

Client make_client(std::vector<NamedTransport> transports, const Options& options,
                   const Clock& clock) {
  if (auto why = check_options(options); !why.empty()) throw Error(Errc::invalid_argument, why);
  return Client(std::make_unique<Client::Impl>(std::move(transports), options, clock));
}

}  // namespace katsubushi::client
