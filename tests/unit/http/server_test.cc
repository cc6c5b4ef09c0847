#include "http/server.h"

#include <gtest/gtest.h>

#include <chrono>
#include <random>
#include <stdexcept>

#include "core/json_writer.h"
#include "http/client.h"
#include "test_util.h"

namespace kamwatch::http {
namespace {

using testing::RawConnection;

std::string json_map(const std::map<std::string, std::string>& m) {
  JsonWriter w;
  w.begin_object();
  for (const auto& [k, v] : m) w.field(k, v);
  w.end_object();
  return w.take();
}

Router demo_router() {
  Router r;
  r.get("/api/v1/accounts/{id}", [](const Request& q) {
    return Response::json(200, json_map({{"id", q.params.at("id")}}));
  });
  r.get("/echo", [](const Request& q) { return Response::json(200, json_map(q.query)); });
  r.post("/rules/reload",
         [](const Request&) { return Response::json(200, R"({"reloaded":true})"); });
  r.post(
      "/echo-body", [](const Request& q) { return Response::text(200, q.body); }, false);
  r.get("/boom",
        [](const Request&) -> Response { throw std::runtime_error("rule store unavailable"); });
  return r;
}

std::unique_ptr<Server> serve(ServerOptions options = {}, Router router = demo_router()) {
  if (options.listen == ServerOptions{}.listen) options.listen = "127.0.0.1:0";
  auto started = Server::start(std::move(options), std::move(router));
  if (!started.ok()) {
    ADD_FAILURE() << started.error().to_string();
    return nullptr;
  }
  return std::move(started).value();
}

ClientResponse call(const Server& server, std::string method, std::string target,
                    std::string body = "",
                    std::vector<std::pair<std::string, std::string>> headers = {}) {
  ClientRequest req;
  req.method = std::move(method);
  req.url = "http://127.0.0.1:" + std::to_string(server.port()) + target;
  req.body = std::move(body);
  req.headers = std::move(headers);
  req.timeout = 5000;
  auto r = request(req);
  if (!r.ok()) {
    ADD_FAILURE() << r.error().to_string();
    return {};
  }
  return std::move(r).value();
}

TEST(Server, RoutesWithPathParametersAndSetsContentHeaders) {
  auto server = serve();
  ASSERT_TRUE(server);
  EXPECT_NE(server->port(), 0);
  EXPECT_TRUE(server->loopback());
  const auto r = call(*server, "GET", "/api/v1/accounts/acme");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, R"({"id":"acme"})");
  EXPECT_EQ(r.headers.at("content-type"), "application/json");
  EXPECT_EQ(r.headers.at("content-length"), std::to_string(r.body.size()));
}

TEST(Server, UnknownPathIs404AndWrongMethodIs405WithAllow) {
  auto server = serve();
  ASSERT_TRUE(server);
  const auto missing = call(*server, "GET", "/api/v2/nothing");
  EXPECT_EQ(missing.status, 404);
  EXPECT_NE(missing.body.find(R"("error":)"), std::string::npos) << missing.body;

  const auto wrong = call(*server, "DELETE", "/api/v1/accounts/acme");
  EXPECT_EQ(wrong.status, 405);
  EXPECT_EQ(wrong.headers.at("allow"), "GET");
  EXPECT_EQ(wrong.headers.at("content-type"), "application/json");
}

TEST(Server, QueryStringIsPercentDecodedLastValueWins) {
  auto server = serve();
  ASSERT_TRUE(server);
  const auto r = call(*server, "GET", "/echo?band=red+hot&name=a%26b%3Dc&x=1&x=2&flag&&");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, R"({"band":"red hot","flag":"","name":"a&b=c","x":"2"})");
}

TEST(Server, BadPercentEscapeIs400AndConnectionStaysUsable) {
  auto server = serve();
  ASSERT_TRUE(server);
  RawConnection c(server->port());
  ASSERT_TRUE(c.connected());
  ASSERT_TRUE(c.send("GET /echo?x=%zz HTTP/1.1\r\nHost: t\r\n\r\n"));
  const auto bad = c.read_response();
  EXPECT_EQ(bad.status, 400);
  EXPECT_NE(bad.body.find("percent-encoding"), std::string::npos) << bad.body;
  ASSERT_TRUE(c.send("GET /echo%G1 HTTP/1.1\r\nHost: t\r\n\r\n"));
  EXPECT_EQ(c.read_response().status, 400);
  ASSERT_TRUE(c.send("GET /echo?x=1 HTTP/1.1\r\nHost: t\r\n\r\n"));
  EXPECT_EQ(c.read_response().body, R"({"x":"1"})");
}

TEST(Server, MalformedRequestIs400JsonThenClose) {
  auto server = serve();
  ASSERT_TRUE(server);
  {
    RawConnection c(server->port());
    ASSERT_TRUE(c.connected());
    ASSERT_TRUE(c.send("GARBAGE\r\n\r\n"));
    const auto r = c.read_response();
    EXPECT_EQ(r.status, 400);
    EXPECT_EQ(r.headers.at("content-type"), "application/json");
    EXPECT_EQ(r.body.rfind(R"({"error":"malformed request)", 0), 0u) << r.body;
    EXPECT_TRUE(c.closed_by_peer());
  }
  {
    RawConnection c(server->port());
    ASSERT_TRUE(c.send("GET / HTTP/1.1\r\nBad Header Without Colon\r\n\r\n"));
    EXPECT_EQ(c.read_response().status, 400);
  }
  {
    RawConnection c(server->port());
    ASSERT_TRUE(c.send(std::string("\x16\x03\x01\x00\xff\x00\x00\x01\x02\r\n\r\n", 14)));
    const auto r = c.read_response();
    EXPECT_EQ(r.status, 400);
  }
  // Still serving.
  EXPECT_EQ(call(*server, "GET", "/api/v1/accounts/x").status, 200);
}

TEST(Server, SurvivesRandomBytes) {
  ServerOptions options;
  options.request_timeout = 300;
  auto server = serve(options);
  ASSERT_TRUE(server);
  std::mt19937 rng(42);
  const std::string prefixes[] = {"", "GET ", "POST /echo-body HTTP/1.1\r\n",
                                  "GET / HTTP/1.1\r\nContent-Length: "};
  for (int i = 0; i < 100; ++i) {
    std::string bytes = prefixes[static_cast<std::size_t>(i) % 4];
    const int n = static_cast<int>(rng() % 300);
    for (int j = 0; j < n; ++j) bytes.push_back(static_cast<char>(rng() & 0xff));
    bytes += "\r\n\r\n";
    RawConnection c(server->port());
    ASSERT_TRUE(c.connected()) << "iteration " << i;
    c.send(bytes);
    const auto r = c.read_response();
    EXPECT_TRUE(r.status == 0 || r.status == 400 || r.status == 404 || r.status == 405 ||
                r.status == 413)
        << "iteration " << i << ": " << r.status;
  }
  EXPECT_EQ(call(*server, "GET", "/api/v1/accounts/still-here").body, R"({"id":"still-here"})");
}

TEST(Server, BodyOverTheLimitIs413) {
  ServerOptions options;
  options.max_body_bytes = 16;
  auto server = serve(options);
  ASSERT_TRUE(server);
  const auto big = call(*server, "POST", "/echo-body", std::string(100, 'x'));
  EXPECT_EQ(big.status, 413);
  EXPECT_NE(big.body.find("larger than 16 bytes"), std::string::npos) << big.body;
  // A client still sending a large body gets the answer too, not a connection reset.
  const auto huge = call(*server, "POST", "/echo-body", std::string(2 << 20, 'x'));
  EXPECT_EQ(huge.status, 413);
  const auto small = call(*server, "POST", "/echo-body", "sixteen bytes ok");
  EXPECT_EQ(small.status, 200);
  EXPECT_EQ(small.body, "sixteen bytes ok");
}

TEST(Server, HandlerExceptionIs500AndServerKeepsServing) {
  auto server = serve();
  ASSERT_TRUE(server);
  for (int i = 0; i < 3; ++i) {
    const auto r = call(*server, "GET", "/boom");
    EXPECT_EQ(r.status, 500);
    EXPECT_EQ(r.body, R"({"error":"rule store unavailable"})");
  }
  EXPECT_EQ(call(*server, "GET", "/api/v1/accounts/acme").status, 200);
}

TEST(Server, MutatingRouteOnLoopbackWithoutTokenIsAllowed) {
  auto server = serve();
  ASSERT_TRUE(server);
  const auto r = call(*server, "POST", "/rules/reload");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, R"({"reloaded":true})");
}

TEST(Server, ConfiguredTokenIsRequiredForMutatingRoutes) {
  ServerOptions options;
  options.bearer_token = "s3cret-token";
  auto server = serve(options);
  ASSERT_TRUE(server);
  const auto none = call(*server, "POST", "/rules/reload");
  EXPECT_EQ(none.status, 401);
  EXPECT_EQ(none.headers.at("www-authenticate"), "Bearer");
  EXPECT_EQ(call(*server, "POST", "/rules/reload", "", {{"Authorization", "Bearer wrong"}}).status,
            401);
  EXPECT_EQ(call(*server, "POST", "/rules/reload", "", {{"Authorization", "Bearer s3cret-tokenX"}})
                .status,
            401);
  EXPECT_EQ(call(*server, "POST", "/rules/reload", "", {{"Authorization", "s3cret-token"}}).status,
            401);
  const auto good =
      call(*server, "POST", "/rules/reload", "", {{"Authorization", "Bearer s3cret-token"}});
  EXPECT_EQ(good.status, 200);
  EXPECT_EQ(good.body, R"({"reloaded":true})");
  // Read-only routes need no token.
  EXPECT_EQ(call(*server, "GET", "/api/v1/accounts/acme").status, 200);
}

TEST(Server, OffLoopbackWithoutTokenRefusesMutatingRoutes) {
  ServerOptions options;
  options.listen = "0.0.0.0:0";
  auto server = serve(options);
  ASSERT_TRUE(server);
  EXPECT_FALSE(server->loopback());
  const auto r = call(*server, "POST", "/rules/reload");
  EXPECT_EQ(r.status, 401);
  EXPECT_NE(r.body.find("token"), std::string::npos) << r.body;
  EXPECT_EQ(call(*server, "GET", "/api/v1/accounts/acme").status, 200);
}

TEST(Server, OffLoopbackWithTokenAcceptsIt) {
  ServerOptions options;
  options.listen = ":0";
  options.bearer_token = "t";
  auto server = serve(options);
  ASSERT_TRUE(server);
  EXPECT_FALSE(server->loopback());
  EXPECT_EQ(call(*server, "POST", "/rules/reload", "", {{"Authorization", "bearer t"}}).status,
            200);
}

TEST(Server, KeepAliveServesSeveralRequestsOnOneConnection) {
  auto server = serve();
  ASSERT_TRUE(server);
  RawConnection c(server->port());
  ASSERT_TRUE(c.connected());
  ASSERT_TRUE(c.send("GET /api/v1/accounts/one HTTP/1.1\r\nHost: t\r\n\r\n"));
  const auto first = c.read_response();
  EXPECT_EQ(first.status, 200);
  EXPECT_EQ(first.body, R"({"id":"one"})");
  ASSERT_TRUE(
      c.send("POST /echo-body HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhello"
             "GET /api/v1/accounts/three HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"));
  const auto second = c.read_response();
  EXPECT_EQ(second.status, 200);
  EXPECT_EQ(second.body, "hello");
  EXPECT_EQ(second.headers.at("content-type"), "text/plain");
  const auto third = c.read_response();
  EXPECT_EQ(third.body, R"({"id":"three"})");
  EXPECT_EQ(third.headers.at("connection"), "close");
  EXPECT_TRUE(c.closed_by_peer());
}

TEST(Server, AnswersExpectContinueBeforeTheBody) {
  auto server = serve();
  ASSERT_TRUE(server);
  RawConnection c(server->port());
  ASSERT_TRUE(c.send(
      "POST /echo-body HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n"));
  EXPECT_EQ(c.read_response().status, 100);
  ASSERT_TRUE(c.send("hello"));
  const auto r = c.read_response();
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "hello");
}

TEST(Server, SlowClientIsDisconnectedAfterTheRequestTimeout) {
  ServerOptions options;
  options.request_timeout = 200;
  auto server = serve(options);
  ASSERT_TRUE(server);
  RawConnection c(server->port());
  ASSERT_TRUE(c.send("GET /api/v1/accounts/x HTTP/1.1\r\n"));
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_TRUE(c.closed_by_peer());
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(3));
}

TEST(Server, StopClosesIdleConnectionsPromptly) {
  auto server = serve();
  ASSERT_TRUE(server);
  RawConnection c(server->port());
  ASSERT_TRUE(c.send("GET /api/v1/accounts/x HTTP/1.1\r\nHost: t\r\n\r\n"));
  EXPECT_EQ(c.read_response().status, 200);
  const auto t0 = std::chrono::steady_clock::now();
  server->stop();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(1500));
  EXPECT_TRUE(c.closed_by_peer());
  RawConnection after(server->port());
  EXPECT_FALSE(after.connected()) << "no longer accepting";
  server->stop();  // idempotent
}

TEST(Server, ListenErrorsNameTheAddress) {
  for (const char* listen : {"nonsense", "127.0.0.1:99999", "::1:80", "127.0.0.1:", "[::1:80"}) {
    ServerOptions options;
    options.listen = listen;
    auto r = Server::start(options, Router{});
    ASSERT_FALSE(r.ok()) << listen;
    EXPECT_EQ(r.error().code, "http_listen");
    EXPECT_NE(r.error().message.find(listen), std::string::npos) << r.error().message;
  }
  auto first = serve();
  ASSERT_TRUE(first);
  ServerOptions taken;
  taken.listen = "127.0.0.1:" + std::to_string(first->port());
  auto r = Server::start(taken, Router{});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "http_listen");
  EXPECT_NE(r.error().message.find(taken.listen), std::string::npos) << r.error().message;
}

TEST(Server, ListensOnIpv6Loopback) {
  ServerOptions options;
  options.listen = "[::1]:0";
  auto started = Server::start(options, demo_router());
  if (!started.ok()) GTEST_SKIP() << "no IPv6 here: " << started.error().to_string();
  auto& server = *started;
  EXPECT_TRUE(server->loopback());
  ClientRequest req;
  req.method = "GET";
  req.url = "http://[::1]:" + std::to_string(server->port()) + "/api/v1/accounts/v6";
  auto r = request(req);
  ASSERT_TRUE(r.ok()) << r.error().to_string();
  EXPECT_EQ(r->body, R"({"id":"v6"})");
}

TEST(Server, UnreadableTlsFilesAreHttpTls) {
  ServerOptions options;
  options.listen = "127.0.0.1:0";
  options.tls_cert_file = "/nonexistent/cert.pem";
  options.tls_key_file = "/nonexistent/key.pem";
  auto r = Server::start(options, Router{});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "http_tls");
  EXPECT_NE(r.error().message.find("/nonexistent/cert.pem"), std::string::npos);

  options.tls_key_file.clear();
  auto half = Server::start(options, Router{});
  ASSERT_FALSE(half.ok());
  EXPECT_EQ(half.error().code, "http_tls");
}

}  // namespace
}  // namespace kamwatch::http
