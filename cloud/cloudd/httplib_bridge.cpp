#include "cloud/cloudd/httplib_bridge.h"

#include <algorithm>
#include <cstring>

namespace homestead::cloudd {
namespace {

// A Stream over the request bytes in memory, collecting what httplib writes.
class MemoryStream : public httplib::Stream {
 public:
  MemoryStream(const std::string& input, std::string remote_ip, int remote_port, bool continue_sent)
      : input_(input), remote_ip_(std::move(remote_ip)), remote_port_(remote_port), drop_continue_(continue_sent) {}

  bool is_readable() const override { return true; }
  bool is_writable() const override { return true; }
  ssize_t read(char* ptr, size_t size) override {
    const std::size_t n = std::min(size, input_.size() - offset_);
    std::memcpy(ptr, input_.data() + offset_, n);
    offset_ += n;
    return static_cast<ssize_t>(n);
  }
  ssize_t write(const char* ptr, size_t size) override {
    const std::string_view data(ptr, size);
    // httplib answers "Expect: 100-continue" itself; the front end already did.
    if (drop_continue_ && output_.empty() && data.rfind("HTTP/1.1 100 ", 0) == 0) {
      drop_continue_ = false;
      return static_cast<ssize_t>(size);
    }
    output_.append(data);
    return static_cast<ssize_t>(size);
  }
  void get_remote_ip_and_port(std::string& ip, int& port) const override {
    ip = remote_ip_;
    port = remote_port_;
  }
  void get_local_ip_and_port(std::string& ip, int& port) const override {
    ip.clear();
    port = 0;
  }
  socket_t socket() const override { return INVALID_SOCKET; }

  std::string take_output() { return std::move(output_); }

 private:
  const std::string& input_;
  std::size_t offset_ = 0;
  std::string remote_ip_;
  int remote_port_;
  bool drop_continue_;
  std::string output_;
};

}  // namespace

std::string HttplibBridge::handle(const std::string& raw, const std::string& remote_ip, int remote_port,
                                  bool continue_sent, bool& close) {
  MemoryStream stream(raw, remote_ip, remote_port, continue_sent);
  bool connection_closed = false;
  const bool ok = process_request(stream, false, connection_closed, nullptr);
  close = connection_closed || !ok;
  return stream.take_output();
}

}  // namespace homestead::cloudd
