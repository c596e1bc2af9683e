// The epoll front end (cloud/cloudd/http_frontend.h) in-process, with stand-in handlers
// instead of cloudd's routes: answers given later from another thread (as the Raft loop
// does), answers larger than the socket buffer (queued, flushed on EPOLLOUT), the slow
// path receiving exactly the request bytes, and idle connections closed after the timeout
// while a connection whose request is still being answered stays open.
#include "cloud/cloudd/http_frontend.h"

#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <thread>
#include <vector>

#include "tests/cloud/raw_http_client.h"
#include "tests/support/process.h"

namespace homestead::cloudd {
namespace {

using namespace std::chrono_literals;
using testing::RawClient;

// Fast route: "/later" parks the connection until the test answers it; "/big" answers
// 8 MiB at once; anything else goes to the slow handler, which echoes the raw request.
struct StandIn {
  std::mutex mutex;
  std::vector<std::shared_ptr<HttpConnection>> parked;
  std::vector<std::string> slow_requests;
  std::atomic<int> mid_answers{0};

  HttpFrontendHandlers handlers() {
    HttpFrontendHandlers h;
    h.fast = [this](const HttpRequest& request, const std::shared_ptr<HttpConnection>& connection) {
      if (request.path == "/later") {
        std::lock_guard lock(mutex);
        parked.push_back(connection);
        return true;
      }
      if (request.path == "/mid") {
        ++mid_answers;
        connection->respond(http_response(200, std::string(1 << 20, 'm'), false), false);
        return true;
      }
      if (request.path == "/big") {
        connection->respond(http_response(200, std::string(8 << 20, 'b'), false), false);
        return true;
      }
      return false;
    };
    h.slow = [this](const std::string& raw, const std::string&, int, bool, bool& close) {
      {
        std::lock_guard lock(mutex);
        slow_requests.push_back(raw);
      }
      close = false;
      return http_response(200, raw, false, {}, "text/plain");
    };
    return h;
  }
  std::shared_ptr<HttpConnection> take_parked() {
    std::lock_guard lock(mutex);
    if (parked.empty()) return nullptr;
    auto c = parked.front();
    parked.erase(parked.begin());
    return c;
  }
};

HostPort any_port() { return HostPort{"127.0.0.1", 0}; }

TEST(HttpFrontendUnit, AnswersFromAnotherThreadAndLargeAnswersArriveWhole) {
  StandIn stand_in;
  HttpFrontend frontend(any_port(), 2, stand_in.handlers());
  frontend.start();
  RawClient c(frontend.port());
  ASSERT_TRUE(c.connected());
  // Pipelined: the answer to /later comes from another thread; /big and the slow one wait
  // behind it and must come out in order.
  const std::string slow = "POST /echo HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello";
  ASSERT_TRUE(c.send_all("GET /later HTTP/1.1\r\n\r\nGET /big HTTP/1.1\r\n\r\n" + slow));
  std::shared_ptr<HttpConnection> parked;
  ASSERT_TRUE(testing::wait_until([&] { return (parked = stand_in.take_parked()) != nullptr; }, 5s));
  EXPECT_TRUE(c.open_and_quiet());  // nothing overtakes the parked answer
  std::thread([parked] { parked->respond(http_response(201, R"({"later":true})", false), false); }).join();
  auto r = c.read_response();
  EXPECT_EQ(r.status, 201);
  EXPECT_EQ(r.body, R"({"later":true})");
  r = c.read_response();
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body.size(), std::size_t{8} << 20);
  EXPECT_EQ(r.body.find_first_not_of('b'), std::string::npos);
  r = c.read_response();
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, slow);  // the worker got exactly the request's bytes
  frontend.stop();
}

TEST(HttpFrontendUnit, IdleConnectionsCloseButOnesBeingAnsweredStay) {
  StandIn stand_in;
  HttpFrontend frontend(any_port(), 2, stand_in.handlers(), {}, 200ms);
  frontend.start();
  RawClient busy(frontend.port());
  ASSERT_TRUE(busy.send_all("GET /later HTTP/1.1\r\n\r\n"));
  std::shared_ptr<HttpConnection> parked;
  ASSERT_TRUE(testing::wait_until([&] { return (parked = stand_in.take_parked()) != nullptr; }, 5s));
  RawClient idle(frontend.port());
  RawClient half(frontend.port());
  ASSERT_TRUE(half.send_all("GET /never-fin"));  // a request that never completes
  ASSERT_TRUE(idle.at_eof());  // blocks until the server closes it (10 s receive timeout)
  ASSERT_TRUE(half.at_eof());
  // Both were closed after busy's request began: busy is older, yet still open.
  EXPECT_TRUE(busy.open_and_quiet());
  parked->respond(http_response(200, "{}", false), false);
  EXPECT_EQ(busy.read_response().status, 200);
  frontend.stop();
}

TEST(HttpFrontendUnit, AClientThatDoesNotReadItsAnswersIsNotServedFarAhead) {
  // 60 pipelined requests for 1 MiB each, read one by one: the front end stops taking
  // requests while 4 MiB wait for the client, so it is never more than that (plus what the
  // kernel buffers hold) ahead of the reader, instead of holding 60 MiB.
  StandIn stand_in;
  HttpFrontend frontend(any_port(), 2, stand_in.handlers());
  frontend.start();
  RawClient c(frontend.port());
  c.set_receive_buffer(64 * 1024);
  std::string all;
  for (int i = 0; i < 60; ++i) all += "GET /mid HTTP/1.1\r\n\r\n";
  ASSERT_TRUE(c.send_all(all));
  ASSERT_TRUE(testing::wait_until([&] { return stand_in.mid_answers.load() >= 5; }, 5s));
  for (int k = 0; k < 60; ++k) {
    // queued 4 + socket send buffer (<= 4 MiB) + receive buffer + the one being written.
    EXPECT_LE(stand_in.mid_answers.load(), k + 12) << "after reading " << k << " answers";
    const auto r = c.read_response();
    ASSERT_EQ(r.status, 200) << k;
    ASSERT_EQ(r.body.size(), std::size_t{1} << 20) << k;
  }
  EXPECT_EQ(stand_in.mid_answers.load(), 60);
  frontend.stop();
}

TEST(HttpFrontendUnit, StopWithRequestsInFlightDropsTheirAnswersSafely) {
  StandIn stand_in;
  auto frontend = std::make_unique<HttpFrontend>(any_port(), 2, stand_in.handlers());
  frontend->start();
  RawClient c(frontend->port());
  ASSERT_TRUE(c.send_all("GET /later HTTP/1.1\r\n\r\n"));
  std::shared_ptr<HttpConnection> parked;
  ASSERT_TRUE(testing::wait_until([&] { return (parked = stand_in.take_parked()) != nullptr; }, 5s));
  frontend->stop();
  frontend.reset();
  EXPECT_TRUE(c.at_eof());
  // The completion arrives after the front end is gone (as a Raft answer may): discarded.
  parked->respond(http_response(200, "{}", false), false);
  parked->respond_slowly();
}

}  // namespace
}  // namespace homestead::cloudd
