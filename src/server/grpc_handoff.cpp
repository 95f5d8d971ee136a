#include "server/grpc_handoff.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/asio/post.hpp>

#include <utility>

#include "grpc/grpc_front.hpp"

namespace katsubushi::server {

bool GrpcHandoff::Handed::gone() const {
  struct stat st {};
  return ::fstat(fd, &st) != 0 || st.st_dev != device || st.st_ino != inode;
}

GrpcHandoff::GrpcHandoff(std::unique_ptr<grpcapi::GrpcFront> front, OpenConnections& open)
    : front_(std::move(front)), open_(open) {}

GrpcHandoff::~GrpcHandoff() { join(); }

bool GrpcHandoff::adopt(TcpSocket socket) {
  boost::system::error_code ignored;
  struct stat st {};
  const int fd = socket.release(ignored);
  if (fd < 0 || ::fstat(fd, &st) != 0 ||
      ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK) != 0) {
    if (fd >= 0) ::close(fd);
    return false;
  }
  try {
    connections_.push_back(
        Handed{.fd = fd, .device = st.st_dev, .inode = st.st_ino, .slot = ConnectionSlot(open_)});
  } catch (...) {
    ::close(fd);
    throw;
  }
  front_->adopt(fd);  // gRPC owns the fd from here on
  return true;
}

void GrpcHandoff::reap() {
  connections_.remove_if([](const Handed& c) { return c.gone(); });
}

void GrpcHandoff::stop(std::chrono::system_clock::time_point deadline,
                       boost::asio::io_context& control) {
  stopper_ = std::thread([this, deadline, &control] {
    front_->shutdown(deadline);
    boost::asio::post(control, [this] { connections_.clear(); });
  });
}

void GrpcHandoff::join() {
  if (stopper_.joinable()) stopper_.join();
}

}  // namespace katsubushi::server
