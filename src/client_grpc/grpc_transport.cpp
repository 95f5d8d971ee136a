#include "client_grpc/grpc_transport.hpp"

#include <grpcpp/grpcpp.h>

#include <utility>

#include "katsubushi.grpc.pb.h"

namespace katsubushi::client {

struct GrpcLink {
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<katsubushi::Generator::Stub> stub;
};

namespace {

// gRPC takes deadlines on the wall clock; the client's are steady.
std::chrono::system_clock::time_point wall_deadline(SteadyTime deadline) {
  return std::chrono::system_clock::now() +
         std::chrono::duration_cast<std::chrono::system_clock::duration>(
             deadline - std::chrono::steady_clock::now());
}

std::shared_ptr<GrpcLink> open_link(const std::string& target) {
  grpc::ChannelArguments args;
  // A channel of its own, not shared with other channels to the same
  // server: dropping it drops its connection.
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  // One try is one request: the failover decides about the next.
  args.SetInt(GRPC_ARG_ENABLE_RETRIES, 0);
  args.SetMaxReceiveMessageSize(kMaxGrpcReplyBytes);
  auto link = std::make_shared<GrpcLink>();
  link->channel = grpc::CreateCustomChannel(target, grpc::InsecureChannelCredentials(), args);
  link->stub = katsubushi::Generator::NewStub(link->channel);
  return link;
}

// Waits until the channel is connected, before `connect_by`: a refused or
// failed connection is connect_failed at once (gRPC's TRANSIENT_FAILURE),
// not a wait for the deadline.
Fault wait_connected(grpc::Channel& channel, SteadyTime connect_by) {
  for (auto state = channel.GetState(true); state != GRPC_CHANNEL_READY;
       state = channel.GetState(true)) {
    if (state == GRPC_CHANNEL_TRANSIENT_FAILURE || state == GRPC_CHANNEL_SHUTDOWN) {
      return {TryErrc::connect_failed, "gRPC channel in transient failure"};
    }
    if (!channel.WaitForStateChange(state, wall_deadline(connect_by))) {
      return {TryErrc::timed_out, "connecting"};
    }
  }
  return {};
}

}  // namespace

std::string grpc_target(const Endpoint& endpoint) {
  if (endpoint.is_unix()) return "unix:" + endpoint.unix_path;
  const bool v6 = endpoint.host.find(':') != std::string::npos;
  return "dns:///" + (v6 ? "[" + endpoint.host + "]" : endpoint.host) + ":" +
         std::to_string(endpoint.port);
}

GrpcStatusMeaning grpc_status_meaning(grpc::StatusCode code) noexcept {
  switch (code) {
    case grpc::StatusCode::OK:
      return {TryErrc{}, "OK"};
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return {TryErrc::timed_out, "DEADLINE_EXCEEDED"};
    // The daemon's "cannot issue now" (no lease, the clock behind), a full
    // server, a connection that broke, a call it cancelled while stopping.
    case grpc::StatusCode::UNAVAILABLE:
      return {TryErrc::server_error, "UNAVAILABLE"};
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
      return {TryErrc::server_error, "RESOURCE_EXHAUSTED"};
    case grpc::StatusCode::CANCELLED:
      return {TryErrc::server_error, "CANCELLED"};
    case grpc::StatusCode::ABORTED:
      return {TryErrc::server_error, "ABORTED"};
    // Not an answer a katsubushi server gives to what was asked.
    case grpc::StatusCode::UNKNOWN:
      return {TryErrc::bad_reply, "UNKNOWN"};
    case grpc::StatusCode::INVALID_ARGUMENT:
      return {TryErrc::bad_reply, "INVALID_ARGUMENT"};
    case grpc::StatusCode::NOT_FOUND:
      return {TryErrc::bad_reply, "NOT_FOUND"};
    case grpc::StatusCode::ALREADY_EXISTS:
      return {TryErrc::bad_reply, "ALREADY_EXISTS"};
    case grpc::StatusCode::PERMISSION_DENIED:
      return {TryErrc::bad_reply, "PERMISSION_DENIED"};
    case grpc::StatusCode::FAILED_PRECONDITION:
      return {TryErrc::bad_reply, "FAILED_PRECONDITION"};
    case grpc::StatusCode::OUT_OF_RANGE:
      return {TryErrc::bad_reply, "OUT_OF_RANGE"};
    case grpc::StatusCode::UNIMPLEMENTED:
      return {TryErrc::bad_reply, "UNIMPLEMENTED"};
    case grpc::StatusCode::INTERNAL:
      return {TryErrc::bad_reply, "INTERNAL"};
    case grpc::StatusCode::DATA_LOSS:
      return {TryErrc::bad_reply, "DATA_LOSS"};
    case grpc::StatusCode::UNAUTHENTICATED:
      return {TryErrc::bad_reply, "UNAUTHENTICATED"};
    case grpc::StatusCode::DO_NOT_USE:
      break;
  }
  return {TryErrc::bad_reply, "an unknown status"};
}

GrpcTransport::GrpcTransport(const ServerAddress& server, std::chrono::milliseconds connect_timeout)
    : target_(grpc_target(server.endpoint)), connect_timeout_(connect_timeout) {}

GrpcTransport::~GrpcTransport() = default;

std::shared_ptr<GrpcLink> GrpcTransport::link() {
  const std::lock_guard lock(mutex_);
  if (!link_) link_ = open_link(target_);
  return link_;
}

void GrpcTransport::drop_idle() {
  std::shared_ptr<GrpcLink> dropped;  // closed outside the lock, when no call holds it
  const std::lock_guard lock(mutex_);
  dropped.swap(link_);
}

Fault GrpcTransport::fetch(std::size_t n, SteadyTime deadline, std::vector<std::uint64_t>& ids) {
  const auto link = this->link();
  const auto connect_by = std::min(deadline, std::chrono::steady_clock::now() + connect_timeout_);
  if (auto f = wait_connected(*link->channel, connect_by)) return f;
  grpc::ClientContext context;
  context.set_deadline(wall_deadline(deadline));
  grpc::Status status;
  if (n == 1) {
    katsubushi::FetchResponse reply;
    status = link->stub->Fetch(&context, katsubushi::FetchRequest(), &reply);
    if (status.ok()) ids.push_back(reply.id());
  } else {
    katsubushi::FetchMultiRequest request;
    request.set_n(static_cast<std::uint32_t>(n));
    katsubushi::FetchMultiResponse reply;
    status = link->stub->FetchMulti(&context, request, &reply);
    if (status.ok()) ids.insert(ids.end(), reply.ids().begin(), reply.ids().end());
  }
  if (status.ok()) return {};
  const auto meaning = grpc_status_meaning(status.error_code());
  return {meaning.errc, std::string(meaning.name) + ": " + status.error_message()};
}

std::unique_ptr<Transport> make_grpc_transport(const ServerAddress& server,
                                               const Options& options) {
  return std::make_unique<GrpcTransport>(server, options.connect_timeout);
}

}  // namespace katsubushi::client
