// The epoll front end's pure HTTP/1.1 request parser (cloud/cloudd/http_request_parser.h):
// complete, split and pipelined requests, keep-alive rules, and every refusal with its status.
#include "cloud/cloudd/http_request_parser.h"

#include <gtest/gtest.h>

#include <string>

#include "tests/support/seeds.h"

namespace homestead::cloudd {
namespace {

const std::string kPut =
    "PUT /api/v1/kv/a%2Fb%20c?consistency=serializable&x=1+2 HTTP/1.1\r\n"
    "Host: 127.0.0.1\r\n"
    "Authorization: Bearer tok\r\n"
    "Content-Type: application/json\r\n"
    "Content-Length: 15\r\n"
    "\r\n"
    "{\"value\":\"hi\"}\n";

TEST(HttpRequestParser, ParsesACompleteRequest) {
  const HttpParseResult r = parse_http_request(kPut);
  ASSERT_EQ(r.status, HttpParseStatus::complete) << r.error;
  EXPECT_EQ(r.request.method, "PUT");
  EXPECT_EQ(r.request.path, "/api/v1/kv/a/b c");
  EXPECT_EQ(r.request.query, "consistency=serializable&x=1+2");
  EXPECT_EQ(r.request.header("authorization"), "Bearer tok");
  EXPECT_EQ(r.request.header("AUTHORIZATION"), "Bearer tok");
  EXPECT_FALSE(r.request.has_header("X-Client-Id"));
  EXPECT_EQ(r.request.body, "{\"value\":\"hi\"}\n");
  EXPECT_EQ(r.request.size, kPut.size());
  EXPECT_TRUE(r.request.keep_alive);
  std::string value;
  ASSERT_TRUE(r.request.query_param("consistency", value));
  EXPECT_EQ(value, "serializable");
  ASSERT_TRUE(r.request.query_param("x", value));
  EXPECT_EQ(value, "1 2");
  EXPECT_FALSE(r.request.query_param("missing", value));
}

TEST(HttpRequestParser, EveryPrefixOfARequestIsIncomplete) {
  for (std::size_t n = 0; n < kPut.size(); ++n) {
    const HttpParseResult r = parse_http_request(std::string_view(kPut).substr(0, n));
    ASSERT_EQ(r.status, HttpParseStatus::incomplete) << "prefix of " << n << " bytes: " << r.error;
    // The head is known (for "100 Continue") exactly once the empty line is in.
    const bool head_in = n >= kPut.find("\r\n\r\n") + 4;
    EXPECT_EQ(r.head_complete, head_in) << n;
  }
}

TEST(HttpRequestParser, PipelinedRequestsParseOneAfterAnother) {
  const std::string get = "GET /api/v1/kv/k HTTP/1.1\r\nHost: x\r\n\r\n";
  const std::string del = "DELETE /api/v1/kv/k2 HTTP/1.1\r\nConnection: close\r\n\r\n";
  const std::string all = kPut + get + del;
  std::string_view rest = all;
  std::vector<std::string> methods;
  std::vector<bool> keep_alive;
  while (!rest.empty()) {
    const HttpParseResult r = parse_http_request(rest);
    ASSERT_EQ(r.status, HttpParseStatus::complete) << r.error;
    methods.emplace_back(r.request.method);
    keep_alive.push_back(r.request.keep_alive);
    rest.remove_prefix(r.request.size);
  }
  EXPECT_EQ(methods, (std::vector<std::string>{"PUT", "GET", "DELETE"}));
  EXPECT_EQ(keep_alive, (std::vector<bool>{true, true, false}));
}

TEST(HttpRequestParser, RandomSplitsOfPipelinedRequestsGiveTheSameRequests) {
  // Bytes arrive in random pieces; the parser is asked again after each piece, as the
  // front end does, and must produce the same three requests.
  const std::string get = "GET /api/v1/kv/k?consistency=linearizable HTTP/1.1\r\n\r\n";
  const std::string put2 = "PUT /api/v1/kv/z HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc";
  const std::string all = kPut + get + put2;
  testing::for_each_seed(50, [&](std::uint64_t seed) {
    std::uint64_t state = seed * 0x9E3779B97F4A7C15ull + 1;
    auto next = [&] {
      state ^= state << 13;
      state ^= state >> 7;
      state ^= state << 17;
      return state;
    };
    std::string buffer;
    std::vector<std::string> bodies;
    std::size_t fed = 0;
    while (fed < all.size()) {
      const std::size_t piece = 1 + next() % 40;
      buffer.append(all, fed, piece);
      fed = std::min(all.size(), fed + piece);
      while (true) {
        const HttpParseResult r = parse_http_request(buffer);
        ASSERT_NE(r.status, HttpParseStatus::error) << r.error;
        if (r.status == HttpParseStatus::incomplete) break;
        bodies.emplace_back(r.request.body);
        buffer.erase(0, r.request.size);
      }
    }
    EXPECT_TRUE(buffer.empty());
    EXPECT_EQ(bodies, (std::vector<std::string>{"{\"value\":\"hi\"}\n", "", "abc"}));
  });
}

TEST(HttpRequestParser, KeepAliveFollowsTheVersionAndConnectionHeader) {
  EXPECT_TRUE(parse_http_request("GET / HTTP/1.1\r\n\r\n").request.keep_alive);
  EXPECT_FALSE(parse_http_request("GET / HTTP/1.1\r\nConnection: Close\r\n\r\n").request.keep_alive);
  EXPECT_FALSE(parse_http_request("GET / HTTP/1.0\r\n\r\n").request.keep_alive);
  EXPECT_TRUE(parse_http_request("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n").request.keep_alive);
  const HttpParseResult expect = parse_http_request("PUT /x HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n");
  EXPECT_EQ(expect.status, HttpParseStatus::incomplete);
  EXPECT_TRUE(expect.head_complete);
  EXPECT_TRUE(expect.request.expect_continue);
}

TEST(HttpRequestParser, AcceptsBareLineFeedsAndLeadingEmptyLines) {
  const std::string request = "\r\nGET /ping HTTP/1.1\nHost: x\n\n";
  const HttpParseResult r = parse_http_request(request);
  ASSERT_EQ(r.status, HttpParseStatus::complete) << r.error;
  EXPECT_EQ(r.request.path, "/ping");
  EXPECT_EQ(r.request.header("host"), "x");
  EXPECT_EQ(r.request.size, request.size());
}

struct Refusal {
  std::string request;
  int status;
  std::string says;  // part of the error message
};

TEST(HttpRequestParser, RefusesWhatItDoesNotSupportWithAStatus) {
  const std::vector<Refusal> cases = {
      {"GARBAGE\r\n\r\n", 400, "bad request line"},
      {"GET /x\r\n\r\n", 400, "bad request line"},
      {"GET  /x HTTP/1.1\r\n\r\n", 400, "bad request line"},
      {"GET x HTTP/1.1\r\n\r\n", 400, "must start with '/'"},
      {"G(T /x HTTP/1.1\r\n\r\n", 400, "not a token"},
      {"GET /x FTP/1.1\r\n\r\n", 400, "not HTTP/x.y"},
      {"GET /x HTTP/2.0\r\n\r\n", 505, "HTTP/2.0"},
      {"GET /x HTTP/1.1\r\nno colon here\r\n\r\n", 400, "bad header line"},
      {"GET /x HTTP/1.1\r\nbad name: v\r\n\r\n", 400, "bad header name"},
      {"PUT /x HTTP/1.1\r\nContent-Length: 12a\r\n\r\n", 400, "Content-Length"},
      {"PUT /x HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd", 400, "twice"},
      {"PUT /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 411, "Content-Length"},
      {"PUT /x HTTP/1.1\r\nContent-Length: 1001\r\n\r\n", 413, "larger than 1000"},
      {"PUT /x HTTP/1.1\r\nContent-Length: 99999999999999999999999\r\n\r\n", 413, "larger than"},
  };
  HttpParseLimits limits;
  limits.max_body_bytes = 1000;
  for (const auto& c : cases) {
    const HttpParseResult r = parse_http_request(c.request, limits);
    EXPECT_EQ(r.status, HttpParseStatus::error) << c.request;
    EXPECT_EQ(r.error_status, c.status) << c.request << " -> " << r.error;
    EXPECT_NE(r.error.find(c.says), std::string::npos) << c.request << " -> " << r.error;
  }
}

TEST(HttpRequestParser, OversizedHeadersAreRefusedBeforeTheHeadEnds) {
  HttpParseLimits limits;
  limits.max_header_bytes = 256;
  // A head that never ends must not be buffered forever: refused once past the limit.
  std::string request = "GET /x HTTP/1.1\r\n";
  while (request.size() <= 256) request += "X-Filler: 0123456789abcdef\r\n";
  const HttpParseResult r = parse_http_request(request, limits);
  EXPECT_EQ(r.status, HttpParseStatus::error);
  EXPECT_EQ(r.error_status, 431);
  // The same for a request line without its line feed.
  const HttpParseResult line = parse_http_request("GET /" + std::string(300, 'a'), limits);
  EXPECT_EQ(line.error_status, 431);
  // Just under the limit is fine.
  EXPECT_EQ(parse_http_request("GET /x HTTP/1.1\r\nA: b\r\n\r\n", limits).status, HttpParseStatus::complete);
}

TEST(HttpRequestParser, PercentDecodingKeepsBadEscapes) {
  EXPECT_EQ(percent_decode("a%2Fb%2fc", false), "a/b/c");
  EXPECT_EQ(percent_decode("a+b", false), "a+b");
  EXPECT_EQ(percent_decode("a+b", true), "a b");
  EXPECT_EQ(percent_decode("100%", false), "100%");
  EXPECT_EQ(percent_decode("%zz%4", false), "%zz%4");
  EXPECT_EQ(percent_decode("%E2%82%AC", false), "\xE2\x82\xAC");
}

}  // namespace
}  // namespace homestead::cloudd
