#include "bench/grpc_connection.hpp"

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <span>
#include <utility>
#include <vector>

#include "bench/tcp_client.hpp"
#include "katsubushi.grpc.pb.h"

namespace katsubushi::bench {

struct GrpcLoadConnection::Impl {
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<katsubushi::Generator::Stub> stub;
};

namespace {

std::chrono::system_clock::time_point in(std::chrono::seconds s) {
  return std::chrono::system_clock::now() + s;
}

// One call in flight: gRPC's objects live until its completion is taken
// off the queue (a ClientContext serves one call only).
struct Call {
  grpc::ClientContext context;
  katsubushi::FetchResponse one;
  katsubushi::FetchMultiResponse many;
  grpc::Status status;
  std::unique_ptr<grpc::ClientAsyncResponseReader<katsubushi::FetchResponse>> fetch;
  std::unique_ptr<grpc::ClientAsyncResponseReader<katsubushi::FetchMultiResponse>> fetch_multi;
  std::uint64_t sent_at = 0;
};

void start(katsubushi::Generator::Stub& stub, grpc::CompletionQueue& queue, Call& call,
           unsigned keys) {
  call.context.set_deadline(in(kReplyTimeout));
  call.sent_at = now_ns();
  if (keys == 1) {
    call.fetch = stub.AsyncFetch(&call.context, katsubushi::FetchRequest{}, &queue);
    call.fetch->Finish(&call.one, &call.status, &call);
  } else {
    katsubushi::FetchMultiRequest request;
    request.set_n(keys);
    call.fetch_multi = stub.AsyncFetchMulti(&call.context, request, &queue);
    call.fetch_multi->Finish(&call.many, &call.status, &call);
  }
}

}  // namespace

GrpcLoadConnection::GrpcLoadConnection(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
GrpcLoadConnection::~GrpcLoadConnection() = default;

std::unique_ptr<GrpcLoadConnection> GrpcLoadConnection::open(const std::string& host,
                                                             std::uint16_t port,
                                                             std::string& error) {
  grpc::ChannelArguments args;
  // A connection per channel, as -conns asks: channels to one server would
  // otherwise share one.
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  args.SetInt(GRPC_ARG_ENABLE_RETRIES, 0);
  // 1000 ids take under 12 KiB: a larger reply is an error counted, not
  // gRPC's default 4 MiB held per call in flight.
  args.SetMaxReceiveMessageSize(64 * 1024);
  const bool v6 = host.find(':') != std::string::npos;
  const std::string target =
      "dns:///" + (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
  auto impl = std::make_unique<Impl>();
  impl->channel = grpc::CreateCustomChannel(target, grpc::InsecureChannelCredentials(), args);
  // A refused or failed connection fails at once (gRPC's TRANSIENT_FAILURE),
  // not after its reconnect backoff.
  const auto deadline = in(kReplyTimeout);
  for (auto state = impl->channel->GetState(true); state != GRPC_CHANNEL_READY;
       state = impl->channel->GetState(true)) {
    if (state == GRPC_CHANNEL_TRANSIENT_FAILURE || state == GRPC_CHANNEL_SHUTDOWN) {
      error = "gRPC connection to " + target + " failed";
      return nullptr;
    }
    if (!impl->channel->WaitForStateChange(state, deadline)) {
      error = "no gRPC connection to " + target + " within " +
              std::to_string(kReplyTimeout.count()) + " s";
      return nullptr;
    }
  }
  impl->stub = katsubushi::Generator::NewStub(impl->channel);
  return std::unique_ptr<GrpcLoadConnection>(new GrpcLoadConnection(std::move(impl)));
}

void GrpcLoadConnection::run(const LoadPlan& plan, LoadControl& control,
                             ConnectionResult& result) {
  grpc::CompletionQueue queue;
  unsigned in_flight = 0;
  bool stopping = false;
  const bool in_order = plan.depth == 1;
  std::vector<std::uint64_t> one_id(1);
  const auto top_up = [&] {
    stopping = stopping || control.phase.load(std::memory_order_relaxed) == Phase::stop;
    if (stopping || in_flight == plan.depth) return;
    const unsigned n = claim(control, plan.depth - in_flight);
    if (n == 0) stopping = true;
    for (unsigned i = 0; i < n; ++i) {
      // Owned by the queue until its completion: released there.
      auto call = std::make_unique<Call>();
      start(*impl_->stub, queue, *call, plan.keys);
      static_cast<void>(call.release());
      ++in_flight;
    }
  };
  top_up();
  while (in_flight > 0) {
    void* tag = nullptr;
    bool ok = false;
    if (!queue.Next(&tag, &ok)) break;  // shut down: not before every call ended
    std::unique_ptr<Call> call(static_cast<Call*>(tag));
    --in_flight;
    const std::uint64_t received_at = now_ns();
    const bool measuring = control.phase.load(std::memory_order_relaxed) == Phase::measure;
    if (!call->status.ok()) {
      ++result.errors;
      const auto code = call->status.error_code();
      if (code == grpc::StatusCode::DEADLINE_EXCEEDED) {
        result.failure = "the server answered no call for " +
                         std::to_string(kReplyTimeout.count()) + " s";
        stopping = true;
      } else if (code == grpc::StatusCode::UNAVAILABLE &&
                 impl_->channel->GetState(false) != GRPC_CHANNEL_READY) {
        result.failure = "the gRPC connection broke: " + call->status.error_message();
        stopping = true;
      }
    } else {
      std::span<const std::uint64_t> ids;
      if (plan.keys == 1) {
        one_id[0] = call->one.id();
        ids = one_id;
      } else {
        ids = {call->many.ids().data(), static_cast<std::size_t>(call->many.ids_size())};
      }
      if (plan.check) result.check.add_reply(ids, in_order);
      if (measuring) {
        ++result.requests;
        result.ids += ids.size();
        if (ids.size() < plan.keys) result.misses += plan.keys - ids.size();
        result.latency.record(received_at - call->sent_at);
      }
    }
    top_up();
  }
  queue.Shutdown();
  void* tag = nullptr;
  bool ok = false;
  while (queue.Next(&tag, &ok)) delete static_cast<Call*>(tag);
  if (plan.check) result.check.finish();
}

}  // namespace katsubushi::bench
