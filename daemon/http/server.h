#pragma once
// The HTTP server behind /metrics, the health endpoints and the JSON API (Boost.Beast over
// Asio): a small router with path parameters, bearer-token protection of mutating routes when
// bound off loopback, optional TLS, request limits, and error responses that are JSON with a
// message. Handlers never crash the server: an exception becomes a 500.
// Thread-safety: start() once; handlers run on the server's threads and must be thread-safe.
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/result.h"
#include "core/time.h"

namespace kamwatch::http {

struct Request {
  std::string method;                          // "GET", "POST", ...
  std::string target;                          // as received, e.g. "/api/v1/accounts?band=red"
  std::string path;                            // percent-decoded path without the query
  std::map<std::string, std::string> query;    // percent-decoded; last value wins
  std::map<std::string, std::string> params;   // path parameters, e.g. {"id": "acme"}
  std::map<std::string, std::string> headers;  // names lower-cased
  std::string body;
  std::string remote;  // peer address "ip:port"
};

struct Response {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;

  static Response json(int status, std::string body);
  static Response text(int status, std::string body, std::string content_type = "text/plain");
  // {"error": message}
  static Response error(int status, std::string_view message);
};

using Handler = std::function<Response(const Request&)>;

class Router {
 public:
  // Pattern segments in braces are parameters: "/api/v1/accounts/{id}" (a parameter matches one
  // whole, non-empty segment). A mutating route needs the bearer token (see ServerOptions).
  // When several patterns match, the one with the most literal segments wins. Throws
  // std::invalid_argument for a pattern that does not start with '/' (a programming error).
  void add(std::string method, std::string pattern, Handler handler, bool mutating = false);
  void get(std::string pattern, Handler handler) {
    add("GET", std::move(pattern), std::move(handler));
  }
  void post(std::string pattern, Handler handler, bool mutating = true) {
    add("POST", std::move(pattern), std::move(handler), mutating);
  }

  // Finds the route: 404 when no pattern matches the path, 405 (with an Allow header) when
  // one matches but not for this method; fills request.params.
  struct Match {
    const Handler* handler = nullptr;
    bool mutating = false;
    int status = 200;   // 404 or 405 when handler is null
    std::string allow;  // for 405
  };
  [[nodiscard]] Match match(Request& request) const;

 private:
  struct Route {
    std::string method;
    std::vector<std::string> segments;
    Handler handler;
    bool mutating = false;
  };
  std::vector<Route> routes_;
};

struct ServerOptions {
  std::string listen = "127.0.0.1:9470";  // HOST:PORT; port 0 picks a free one (tests)
  // Bearer token for mutating routes. Required for them when the listen address is not
  // loopback (without a token they then always answer 401); checked on loopback too when set.
  std::string bearer_token;
  // TLS: both set = HTTPS only (PEM files).
  std::string tls_cert_file;
  std::string tls_key_file;
  std::size_t max_body_bytes = 1 << 20;
  TimeMs request_timeout = 10000;  // reading one request
  int threads = 2;
};

class Server {
 public:
  // Binds and starts serving. Errors: "http_listen" (bad address, port in use),
  // "http_tls" (unreadable certificate or key).
  [[nodiscard]] static Result<std::unique_ptr<Server>> start(ServerOptions options, Router router);
  virtual ~Server() = default;
  // The bound port (the real one when listen asked for port 0).
  [[nodiscard]] virtual std::uint16_t port() const = 0;
  // True when bound to a loopback address (127.0.0.0/8, ::1, localhost).
  [[nodiscard]] virtual bool loopback() const = 0;
  // Stops accepting, finishes in-flight requests (up to a short deadline), joins the threads.
  // Idempotent; not from a handler (it would join its own thread).
  virtual void stop() = 0;
};

// True when host is a loopback address or "localhost".
[[nodiscard]] bool is_loopback_host(std::string_view host);
// Percent-decoding ('+' stays '+' in paths, becomes ' ' in query values). nullopt-like error
// on a bad escape: returns false.
[[nodiscard]] bool percent_decode(std::string_view in, std::string& out, bool plus_is_space);

}  // namespace kamwatch::http
