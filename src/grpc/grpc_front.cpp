#include "grpc/grpc_front.hpp"

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/server_posix.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <limits>
#include <mutex>
#include <stdexcept>

#include "grpc/handlers.hpp"
#include "katsubushi.grpc.pb.h"
#include "proto/id_service.hpp"

namespace katsubushi::grpcapi {

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

class GeneratorService final : public katsubushi::Generator::Service {
 public:
  GeneratorService(id::IdGenerator& generator, proto::ProtocolCounters& counters)
      : clock_(generator.clock()), ids_(generator, counters) {}

  grpc::Status Fetch(grpc::ServerContext* context, const katsubushi::FetchRequest* /*request*/,
                     katsubushi::FetchResponse* response) override {
    std::array<std::uint64_t, kMaxFetchMulti> out{};
    const FetchResult r = fetch_ids(ids_, clock_, 1, out, [context] { return context->IsCancelled(); });
    if (r.outcome == Outcome::ok) response->set_id(out[0]);
    return to_status(r);
  }

  grpc::Status FetchMulti(grpc::ServerContext* context, const katsubushi::FetchMultiRequest* request,
                          katsubushi::FetchMultiResponse* response) override {
    std::array<std::uint64_t, kMaxFetchMulti> out{};
    const FetchResult r =
        fetch_ids(ids_, clock_, request->n(), out, [context] { return context->IsCancelled(); });
    if (r.outcome == Outcome::ok) {
      auto* ids = response->mutable_ids();
      ids->Reserve(static_cast<int>(r.count));
      for (std::size_t i = 0; i < r.count; ++i) ids->Add(out[i]);
    }
    return to_status(r);
  }

 private:
  id::Clock& clock_;
  proto::IdService ids_;
};

class StatsService final : public katsubushi::Stats::Service {
 public:
  explicit StatsService(proto::StatsSource& stats) : stats_(stats) {}

  grpc::Status Get(grpc::ServerContext* /*context*/, const katsubushi::StatsRequest* /*request*/,
                   katsubushi::StatsResponse* response) override {
    const auto f = stats_figures(stats_.general_stats());
    if (!f) return {grpc::StatusCode::INTERNAL, "the stats are missing go-katsubushi's nine"};
    response->set_pid(f->pid);
    response->set_uptime(f->uptime);
    response->set_time(f->time);
    response->set_version(f->version);
    response->set_curr_connections(f->curr_connections);
    response->set_total_connections(f->total_connections);
    response->set_cmd_get(f->cmd_get);
    response->set_get_hits(f->get_hits);
    response->set_get_misses(f->get_misses);
    return grpc::Status::OK;
  }

 private:
  proto::StatsSource& stats_;
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
  Services(id::IdGenerator& ids, proto::ProtocolCounters& counters,
           proto::StatsSource& figures)
      : generator(ids, counters), stats(figures) {}
  GeneratorService generator;
  StatsService stats;
  std::mutex shutdown_mu;
  bool shut_down = false;
};

GrpcFront::GrpcFront(id::IdGenerator& generator, proto::ProtocolCounters& counters,
                     proto::StatsSource& stats, const GrpcOptions& options)
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
}

}  // namespace katsubushi::grpcapi
