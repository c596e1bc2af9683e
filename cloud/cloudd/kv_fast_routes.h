// The KV hot path of the epoll front end (http_frontend.h): PUT, GET and DELETE on
// /api/v1/kv/{key}. Writes and linearizable reads go to the Raft server asynchronously and
// the answer is written from the Raft loop's completion, with no HTTP worker thread.
// Same contract as http_api.cpp's routes (bearer token, percent-encoded keys with '/',
// ?consistency=, session headers, follower writes over the peer link); a write that must
// be forwarded over HTTP (no peer link to the leader) goes to the worker pool, which runs
// http_api.cpp's route. Other paths and methods are left to the pool too.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "cloud/cloudd/http_frontend.h"
#include "cloud/cloudd/http_request_parser.h"
#include "cloud/cloudd/raft_server.h"

namespace homestead::cloudd {

class KvFastRoutes {
 public:
  KvFastRoutes(RaftServer& raft, std::string token, std::string cluster_secret, std::chrono::milliseconds timeout)
      : raft_(raft), token_(std::move(token)), secret_(std::move(cluster_secret)), timeout_(timeout) {}

  // Event thread. False: not a KV key route, the worker pool serves it.
  bool handle(const HttpRequest& request, const std::shared_ptr<HttpConnection>& connection);

 private:
  bool authorized(const HttpRequest& request) const;

  RaftServer& raft_;
  std::string token_;
  std::string secret_;
  std::chrono::milliseconds timeout_;
};

}  // namespace homestead::cloudd
