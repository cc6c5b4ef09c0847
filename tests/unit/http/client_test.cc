#include "http/client.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <fstream>

#include "core/json_writer.h"
#include "http/server.h"
#include "test_util.h"

namespace kamwatch::http {
namespace {

using Clock = std::chrono::steady_clock;

// A listening socket nobody accepts from: the kernel completes the TCP handshake, then
// nothing ever answers.
class SilentListener {
 public:
  SilentListener() {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        ::listen(fd_, 8) != 0) {
      return;
    }
    socklen_t len = sizeof addr;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
  }
  ~SilentListener() { ::close(fd_); }
  SilentListener(const SilentListener&) = delete;
  SilentListener& operator=(const SilentListener&) = delete;
  [[nodiscard]] std::uint16_t port() const { return port_; }

 private:
  int fd_ = -1;
  std::uint16_t port_ = 0;
};

std::string url(std::uint16_t port, std::string_view target, std::string_view scheme = "http") {
  return std::string(scheme) + "://127.0.0.1:" + std::to_string(port) + std::string(target);
}

TEST(Client, TimesOutAgainstAServerThatNeverAnswers) {
  SilentListener silent;
  ASSERT_NE(silent.port(), 0);
  ClientRequest req;
  req.url = url(silent.port(), "/hook");
  req.body = R"({"alert":"x"})";
  req.timeout = 300;
  const auto t0 = Clock::now();
  auto r = request(req);
  const auto elapsed = Clock::now() - t0;
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "http_timeout") << r.error().to_string();
  EXPECT_GE(elapsed, std::chrono::milliseconds(250));
  EXPECT_LT(elapsed, std::chrono::seconds(2));
}

TEST(Client, ConnectionRefusedIsHttpConnect) {
  std::uint16_t port;
  {
    SilentListener probe;  // find a free port, then free it
    port = probe.port();
  }
  ClientRequest req;
  req.url = url(port, "/");
  req.timeout = 2000;
  auto r = request(req);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "http_connect") << r.error().to_string();
  EXPECT_NE(r.error().message.find(std::to_string(port)), std::string::npos);
}

TEST(Client, BadUrlIsHttpUrl) {
  ClientRequest req;
  req.url = "gopher://example.com/";
  auto r = request(req);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "http_url");
}

TEST(Client, SendsHostUserAgentContentTypeAndCustomHeaders) {
  Router router;
  router.post(
      "/hook",
      [](const Request& q) {
        JsonWriter w;
        w.begin_object();
        for (const char* h : {"host", "user-agent", "content-type", "x-kamwatch-signature"}) {
          w.field(h, q.headers.count(h) ? q.headers.at(h) : std::string("(none)"));
        }
        w.field("body", q.body).end_object();
        Response r = Response::json(202, w.take());
        r.headers.emplace_back("X-Reply", "yes");
        return r;
      },
      false);
  ServerOptions options;
  options.listen = "127.0.0.1:0";
  auto server = Server::start(options, std::move(router));
  ASSERT_TRUE(server.ok()) << server.error().to_string();
  const std::uint16_t port = (*server)->port();

  ClientRequest req;
  req.url = url(port, "/hook");
  req.body = R"({"a":1})";
  req.headers = {{"X-Kamwatch-Signature", hmac_sha256_hex("k", req.body)}};
  auto r = request(req);
  ASSERT_TRUE(r.ok()) << r.error().to_string();
  EXPECT_EQ(r->status, 202) << "any status is a success for the transport";
  EXPECT_EQ(r->headers.at("x-reply"), "yes");
  EXPECT_EQ(r->body, R"({"host":"127.0.0.1:)" + std::to_string(port) +
                         R"(","user-agent":"kamwatch","content-type":"application/json",)"
                         R"("x-kamwatch-signature":")" +
                         hmac_sha256_hex("k", R"({"a":1})") + R"(","body":"{\"a\":1}"})");

  req.headers = {{"X-Bad", "a\r\nInjected: 1"}};
  auto injected = request(req);
  ASSERT_FALSE(injected.ok());
  EXPECT_NE(injected.error().message.find("line break"), std::string::npos);
}

class Tls : public ::testing::Test {
 protected:
  // One self-signed certificate for the suite (RSA key generation takes a while).
  static void SetUpTestSuite() {
    dir_ = new testing::TempDir();
    cert_ = (dir_->path() / "c.pem").string();
    key_ = (dir_->path() / "k.pem").string();
    const std::string cmd = "openssl req -x509 -newkey rsa:2048 -nodes -keyout '" + key_ +
                            "' -out '" + cert_ + "' -days 1 -subj /CN=localhost >/dev/null 2>&1";
    generated_ = std::system(cmd.c_str()) == 0;
  }
  static void TearDownTestSuite() {
    delete dir_;
    dir_ = nullptr;
  }

  void SetUp() override {
    ASSERT_TRUE(generated_) << "the openssl CLI is needed to make a test certificate";
    Router router;
    router.get("/healthz", [](const Request&) { return Response::text(200, "ok"); });
    router.post("/rules/reload", [](const Request& q) { return Response::json(200, q.body); });
    ServerOptions options;
    options.listen = "127.0.0.1:0";
    options.tls_cert_file = cert_;
    options.tls_key_file = key_;
    options.bearer_token = "tok";
    auto started = Server::start(options, std::move(router));
    ASSERT_TRUE(started.ok()) << started.error().to_string();
    server_ = std::move(started).value();
  }

  // A request to the server over HTTPS that does not verify its self-signed certificate.
  ClientRequest https(std::string method, std::string_view target) const {
    ClientRequest req;
    req.method = std::move(method);
    req.url = url(server_->port(), target, "https");
    req.verify_tls = false;
    return req;
  }

  static inline testing::TempDir* dir_ = nullptr;
  static inline std::string cert_;
  static inline std::string key_;
  static inline bool generated_ = false;
  std::unique_ptr<Server> server_;
};

TEST_F(Tls, ServesHttpsWithASelfSignedCertificate) {
  auto r = request(https("GET", "/healthz"));
  ASSERT_TRUE(r.ok()) << r.error().to_string();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "ok");

  ClientRequest req = https("POST", "/rules/reload");
  req.body = R"({"x":1})";
  req.headers = {{"Authorization", "Bearer tok"}};
  auto post = request(req);
  ASSERT_TRUE(post.ok()) << post.error().to_string();
  EXPECT_EQ(post->status, 200);
  EXPECT_EQ(post->body, R"({"x":1})");
}

TEST_F(Tls, VerificationRejectsAnUntrustedCertificate) {
  ClientRequest req;
  req.method = "GET";
  req.url = "https://localhost:" + std::to_string(server_->port()) + "/healthz";
  req.verify_tls = true;
  auto r = request(req);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "http_tls") << r.error().to_string();
}

TEST_F(Tls, PlainHttpToTheTlsPortGetsNoResponse) {
  testing::RawConnection c(server_->port());
  ASSERT_TRUE(c.send("GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n"));
  EXPECT_EQ(c.read_response().status, 0);
  // And the server still serves HTTPS.
  auto r = request(https("GET", "/healthz"));
  ASSERT_TRUE(r.ok()) << r.error().to_string();
  EXPECT_EQ(r->status, 200);
}

}  // namespace
}  // namespace kamwatch::http
