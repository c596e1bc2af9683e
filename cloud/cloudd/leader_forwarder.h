// Followers forward client writes to the leader's HTTP API (instead of answering 307), so a
// client may talk to any member over one keep-alive connection. Each HTTP worker thread
// keeps its own keep-alive connection per leader address; forwarded requests carry the
// cluster secret and a marker header so they are never forwarded twice.
#pragma once

#include <string>

namespace httplib {
struct Request;
struct Response;
}  // namespace httplib

namespace homestead::cloudd {

inline constexpr const char* kForwardedHeader = "X-Homestead-Forwarded";

// Percent-encodes a key for a URL path, keeping unreserved characters and '/'.
std::string encode_path_key(const std::string& key);

class LeaderForwarder {
 public:
  LeaderForwarder(std::string cluster_secret, int timeout_ms)
      : secret_(std::move(cluster_secret)), timeout_ms_(timeout_ms) {}

  // Sends `request` (method, path, query, body, session headers) to the leader at
  // `leader_http` ("host:port") and copies its answer into `response`. A request that
  // may have reached the leader but got no answer becomes 504 (outcome unknown); one that
  // certainly did not leave becomes 503.
  void forward(const httplib::Request& request, const std::string& path, const std::string& leader_http,
               httplib::Response& response) const;

 private:
  std::string secret_;
  int timeout_ms_;
};

}  // namespace homestead::cloudd
