#include "grpc/grpc_front.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/server_posix.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <limits>
#include <mutex>
#include <functional>
#include <span>
#include <stdexcept>
#include <thread>

#include "grpc/handlers.hpp"
#include "katsubushi.grpc.pb.h"
#include "service/id_service.hpp"

namespace katsubushi::grpcapi {

namespace asio = boost::asio;

namespace {

grpc::Status to_status(const FetchResult& r) {
  switch (r.outcome) {
    case Outcome::ok:
      return grpc::Status::OK;
    case Outcome::invalid_argument:
      return {grpc::StatusCode::INVALID_ARGUMENT, r.message};
    case Outcome::unavailable:
      return {grpc::StatusCode::UNAVAILABLE, r.message};
    case Outcome::cancelled:
      return {grpc::StatusCode::CANCELLED, r.message};
  }
  return {grpc::StatusCode::INTERNAL, "unexpected outcome"};
}

// Where a call whose millisecond is used up waits for the next one: a
// thread of gRPC's front with a timer queue, so that no gRPC thread blocks
// and no call is turned away for want of a thread.
class Waiter {
 public:
  Waiter() : guard_(io_.get_executor()), thread_([this] { io_.run(); }) {}
  ~Waiter() { stop(); }
  Waiter(const Waiter&) = delete;
  Waiter& operator=(const Waiter&) = delete;

  asio::io_context& io() { return io_; }
  // Once gRPC has stopped: nothing is waiting any more.
  void stop() {
    guard_.reset();
    if (thread_.joinable()) thread_.join();
  }

 private:
  asio::io_context io_{1};
  asio::executor_work_guard<asio::io_context::executor_type> guard_;
  std::thread thread_;
};

// One Fetch or FetchMulti in progress: tried at once on the gRPC thread that
// received it, then on the waiter's timer until it is answered.
class FetchCall {
 public:
  using Deliver = std::function<void(std::span<const std::uint64_t>)>;

  static void start(service::IdService& ids, id::Clock& clock, Waiter& waiter,
                    grpc::CallbackServerContext* context, grpc::ServerUnaryReactor* reactor,
                    std::uint32_t n, Deliver deliver) {
    auto* call = new FetchCall(ids, clock, waiter, context, reactor, n, std::move(deliver));
    call->attempt();
  }

 private:
  FetchCall(service::IdService& ids, id::Clock& clock, Waiter& waiter,
            grpc::CallbackServerContext* context, grpc::ServerUnaryReactor* reactor,
            std::uint32_t n, Deliver deliver)
      : ids_(ids),
        clock_(clock),
        context_(context),
        reactor_(reactor),
        n_(n),
        deliver_(std::move(deliver)),
        timer_(waiter.io()) {}

  // Answers, or waits for the next millisecond; deletes itself once answered.
  void attempt() {
    FetchStep step = fetch_step(ids_, n_, out_, context_->IsCancelled());
    if (step.done) {
      if (step.done->outcome == Outcome::ok) {
        deliver_(std::span<const std::uint64_t>(out_.data(), step.done->count));
      }
      reactor_->Finish(to_status(*step.done));
      delete this;
      return;
    }
    timer_.expires_at(clock_.steady_at_unix_ms(step.not_before_unix_ms));
    timer_.async_wait([this](const boost::system::error_code&) { attempt(); });
  }

  service::IdService& ids_;
  id::Clock& clock_;
  grpc::CallbackServerContext* context_;
  grpc::ServerUnaryReactor* reactor_;
  std::uint32_t n_;
  Deliver deliver_;
  asio::steady_timer timer_;
  std::array<std::uint64_t, kMaxFetchMulti> out_{};
};

class GeneratorService final : public katsubushi::Generator::CallbackService {
 public:
  GeneratorService(id::IdGenerator& generator, service::ProtocolCounters& counters, Waiter& waiter)
      : clock_(generator.clock()), ids_(generator, counters), waiter_(waiter) {}

  grpc::ServerUnaryReactor* Fetch(grpc::CallbackServerContext* context,
                                  const katsubushi::FetchRequest* /*request*/,
                                  katsubushi::FetchResponse* response) override {
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    FetchCall::start(ids_, clock_, waiter_, context, reactor, 1,
                     [response](std::span<const std::uint64_t> ids) { response->set_id(ids[0]); });
    return reactor;
  }

  grpc::ServerUnaryReactor* FetchMulti(grpc::CallbackServerContext* context,
                                       const katsubushi::FetchMultiRequest* request,
                                       katsubushi::FetchMultiResponse* response) override {
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    FetchCall::start(ids_, clock_, waiter_, context, reactor, request->n(),
                     [response](std::span<const std::uint64_t> ids) {
                       auto* out = response->mutable_ids();
                       out->Reserve(static_cast<int>(ids.size()));
                       for (const std::uint64_t id : ids) out->Add(id);
                     });
    return reactor;
  }

 private:
  id::Clock& clock_;
  service::IdService ids_;
  Waiter& waiter_;
};

class StatsService final : public katsubushi::Stats::CallbackService {
 public:
  explicit StatsService(service::StatsSource& stats) : stats_(stats) {}

  grpc::ServerUnaryReactor* Get(grpc::CallbackServerContext* context,
                                const katsubushi::StatsRequest* /*request*/,
                                katsubushi::StatsResponse* response) override {
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    const auto f = stats_figures(stats_.general_stats());
    if (!f) {
      reactor->Finish({grpc::StatusCode::INTERNAL, "the stats are missing go-katsubushi's nine"});
      return reactor;
    }
    response->set_pid(f->pid);
    response->set_uptime(f->uptime);
    response->set_time(f->time);
    response->set_version(f->version);
    response->set_curr_connections(f->curr_connections);
    response->set_total_connections(f->total_connections);
    response->set_cmd_get(f->cmd_get);
    response->set_get_hits(f->get_hits);
    response->set_get_misses(f->get_misses);
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }

 private:
  service::StatsSource& stats_;
};

// gRPC's own limits, set so that what a client sends is bounded: requests
// are a few bytes (reflection's a few hundred).
constexpr int kMaxReceiveMessageBytes = 4096;
constexpr int kMaxConcurrentStreams = 100;

int idle_ms(std::chrono::nanoseconds idle_timeout) {
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(idle_timeout).count();
  return static_cast<int>(std::clamp<std::int64_t>(ms, 1, std::numeric_limits<int>::max()));
}

}  // namespace

struct GrpcFront::Services {
  Services(id::IdGenerator& ids, service::ProtocolCounters& counters,
           service::StatsSource& figures)
      : generator(ids, counters, waiter), stats(figures) {}
  Waiter waiter;  // before the services that use it
  GeneratorService generator;
  StatsService stats;
  std::mutex shutdown_mu;
  bool shut_down = false;
};

GrpcFront::GrpcFront(id::IdGenerator& generator, service::ProtocolCounters& counters,
                     service::StatsSource& stats, const GrpcOptions& options)
    : services_(std::make_unique<Services>(generator, counters, stats)) {
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  builder.RegisterService(&services_->generator);
  builder.RegisterService(&services_->stats);
  grpc::ResourceQuota quota("katsubushi-grpc");
  quota.SetMaxThreads(std::max(2, options.max_threads));
  builder.SetResourceQuota(quota);
  builder.SetSyncServerOption(grpc::ServerBuilder::SyncServerOption::NUM_CQS, 1);
  builder.SetSyncServerOption(grpc::ServerBuilder::SyncServerOption::MIN_POLLERS, 1);
  builder.SetSyncServerOption(grpc::ServerBuilder::SyncServerOption::MAX_POLLERS, 2);
  builder.SetMaxReceiveMessageSize(kMaxReceiveMessageBytes);
  builder.AddChannelArgument(GRPC_ARG_MAX_CONCURRENT_STREAMS, kMaxConcurrentStreams);
  if (options.idle_timeout != std::chrono::nanoseconds::zero()) {
    builder.AddChannelArgument(GRPC_ARG_MAX_CONNECTION_IDLE_MS, idle_ms(options.idle_timeout));
  }
  server_ = builder.BuildAndStart();
  if (!server_) throw std::runtime_error("-grpc-port: the gRPC server could not start");
}

GrpcFront::~GrpcFront() { shutdown(std::chrono::system_clock::now()); }

void GrpcFront::adopt(int fd) {
  {
    const std::lock_guard lock(services_->shutdown_mu);
    if (!services_->shut_down) {
      grpc::AddInsecureChannelFromFd(server_.get(), fd);
      return;
    }
  }
  ::close(fd);
}

void GrpcFront::shutdown(std::chrono::system_clock::time_point deadline) {
  {
    const std::lock_guard lock(services_->shutdown_mu);
    if (services_->shut_down) return;
    services_->shut_down = true;
  }
  server_->Shutdown(deadline);
  server_->Wait();
  services_->waiter.stop();
}

}  // namespace katsubushi::grpcapi
