#include <gtest/gtest.h>

#include "http/client.h"
#include "http/server.h"

namespace kamwatch::http {
namespace {

Handler returns(std::string body) {
  return [body](const Request&) { return Response::text(200, body); };
}

Request make(std::string method, std::string target) {
  Request r;
  r.method = std::move(method);
  r.target = std::move(target);
  return r;
}

// The body of the answer of the handler the router picks for r (which fills in r's params), or
// "(no handler)" when it picks none.
std::string answer(const Router& router, Request& r) {
  const Router::Match m = router.match(r);
  return m.handler ? (*m.handler)(r).body : "(no handler)";
}

TEST(Router, MatchesLiteralsAndFillsPathParameters) {
  Router router;
  router.get("/healthz", returns("health"));
  router.get("/api/v1/accounts/{id}/alerts/{rule}", returns("alerts"));
  Request health = make("GET", "/healthz");
  EXPECT_EQ(answer(router, health), "health");

  Request alerts = make("GET", "/api/v1/accounts/acme/alerts/churn?x=1");
  EXPECT_EQ(answer(router, alerts), "alerts");
  EXPECT_EQ(alerts.params, (std::map<std::string, std::string>{{"id", "acme"}, {"rule", "churn"}}));
}

TEST(Router, LiteralSegmentBeatsParameter) {
  Router router;
  router.get("/accounts/{id}", returns("by id"));
  router.get("/accounts/search", returns("search"));
  Request r = make("GET", "/accounts/search");
  EXPECT_EQ(answer(router, r), "search");
}

TEST(Router, EncodedSlashStaysInsideItsParameter) {
  Router router;
  router.get("/accounts/{id}", returns("by id"));
  Request r = make("GET", "/accounts/a%2Fb%20c");
  ASSERT_NE(router.match(r).handler, nullptr);
  EXPECT_EQ(r.params.at("id"), "a/b c");
}

TEST(Router, UnknownPathIs404AndWrongMethodIs405WithAllow) {
  Router router;
  router.get("/rules", returns("list"));
  router.post("/rules", returns("reload"));
  router.add("PUT", "/rules/{name}", returns("put"));

  Request unknown = make("GET", "/nope");
  EXPECT_EQ(router.match(unknown).status, 404);
  EXPECT_EQ(router.match(unknown).handler, nullptr);

  Request wrong = make("DELETE", "/rules");
  const auto m = router.match(wrong);
  EXPECT_EQ(m.handler, nullptr);
  EXPECT_EQ(m.status, 405);
  EXPECT_EQ(m.allow, "GET, POST");

  Request post = make("POST", "/rules");
  const auto p = router.match(post);
  ASSERT_NE(p.handler, nullptr);
  EXPECT_TRUE(p.mutating) << "post() routes are mutating by default";
  Request get = make("GET", "/rules");
  EXPECT_FALSE(router.match(get).mutating);
}

TEST(Router, ParameterNeedsANonEmptySegment) {
  Router router;
  router.get("/accounts/{id}", returns("by id"));
  Request empty = make("GET", "/accounts/");
  EXPECT_EQ(router.match(empty).status, 404);
  Request deeper = make("GET", "/accounts/a/b");
  EXPECT_EQ(router.match(deeper).status, 404);
}

TEST(Router, RejectsPatternsWithoutLeadingSlash) {
  Router router;
  EXPECT_THROW(router.get("healthz", returns("x")), std::invalid_argument);
}

TEST(PercentDecode, DecodesEscapesAndPlusOnlyInQueries) {
  std::string out;
  ASSERT_TRUE(percent_decode("a%20b+c%2fd%C3%A9", out, false));
  EXPECT_EQ(out, "a b+c/d\xC3\xA9");
  ASSERT_TRUE(percent_decode("a%20b+c", out, true));
  EXPECT_EQ(out, "a b c");
}

TEST(PercentDecode, RejectsBadEscapes) {
  std::string out;
  EXPECT_FALSE(percent_decode("%", out, true));
  EXPECT_FALSE(percent_decode("ab%2", out, true));
  EXPECT_FALSE(percent_decode("%zz", out, true));
  EXPECT_FALSE(percent_decode("%g0", out, false));
}

TEST(Loopback, RecognisesLoopbackAddressesAndLocalhost) {
  EXPECT_TRUE(is_loopback_host("127.0.0.1"));
  EXPECT_TRUE(is_loopback_host("127.8.9.10"));
  EXPECT_TRUE(is_loopback_host("::1"));
  EXPECT_TRUE(is_loopback_host("[::1]"));
  EXPECT_TRUE(is_loopback_host("::ffff:127.0.0.1"));
  EXPECT_TRUE(is_loopback_host("LocalHost"));
  EXPECT_FALSE(is_loopback_host("0.0.0.0"));
  EXPECT_FALSE(is_loopback_host("::"));
  EXPECT_FALSE(is_loopback_host("10.0.0.1"));
  EXPECT_FALSE(is_loopback_host("example.com"));
  EXPECT_FALSE(is_loopback_host(""));
}

TEST(Response, ErrorIsJsonWithEscapedMessage) {
  const Response r = Response::error(400, "bad \"x\"\n");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.content_type, "application/json");
  EXPECT_EQ(r.body, R"({"error":"bad \"x\"\n"})");
}

TEST(ParseUrl, SplitsAndDefaults) {
  const std::pair<const char*, Url> cases[] = {
      {"http://example.com", {"http", "example.com", "80", "/"}},
      {"HTTPS://hooks.example.com/services/T1?x=1#frag",
       {"https", "hooks.example.com", "443", "/services/T1?x=1"}},
      {"http://[::1]:8080?q=2", {"http", "::1", "8080", "/?q=2"}},
      {"http://127.0.0.1:9470/metrics", {"http", "127.0.0.1", "9470", "/metrics"}},
  };
  for (const auto& [text, want] : cases) {
    auto u = parse_url(text);
    ASSERT_TRUE(u.ok()) << text << ": " << u.error().to_string();
    EXPECT_EQ(u->scheme, want.scheme) << text;
    EXPECT_EQ(u->host, want.host) << text;
    EXPECT_EQ(u->port, want.port) << text;
    EXPECT_EQ(u->target, want.target) << text;
  }
}

TEST(ParseUrl, ErrorsNameTheProblem) {
  const std::pair<const char*, const char*> cases[] = {
      {"example.com/x", "scheme"},
      {"ftp://example.com/", "unsupported scheme"},
      {"http:///path", "missing host"},
      {"http://host:99999/", "port"},
      {"http://host:/", "port"},
      {"http://host:abc/", "port"},
      {"http://[::1/", "]"},
      {"http://[nothex]:80/", "IPv6"},
      {"http://user:pw@host/", "credentials"},
      {"http://host/a b", "whitespace"},
  };
  for (const auto& [url, words] : cases) {
    auto r = parse_url(url);
    ASSERT_FALSE(r.ok()) << url;
    EXPECT_EQ(r.error().code, "http_url") << url;
    EXPECT_NE(r.error().message.find(words), std::string::npos) << r.error().message;
  }
}

TEST(Hmac, Rfc4231TestVectors) {
  // RFC 4231 test case 2.
  EXPECT_EQ(hmac_sha256_hex("Jefe", "what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  // Test case 1: key = 20 x 0x0b.
  EXPECT_EQ(hmac_sha256_hex(std::string(20, '\x0b'), "Hi There"),
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
  EXPECT_EQ(hmac_sha256_hex("", ""),
            "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad");
}

}  // namespace
}  // namespace kamwatch::http
