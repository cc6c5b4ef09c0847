#pragma once
// A small blocking HTTP/1.1 client (Boost.Beast) for alert sinks and tests: one request per
// connection, connect/read/write bounded by one timeout, http:// and https:// (TLS with the
// system's CA store; verification can be turned off for tests).
// Thread-safety: free functions; safe from any thread.
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "core/result.h"
#include "core/time.h"

namespace kamwatch::http {

struct Url {
  std::string scheme;  // "http" or "https"
  std::string host;    // an IPv6 literal without its brackets ("::1")
  std::string port;    // defaulted from the scheme when absent
  std::string target;  // path + query, "/" when empty
};
// Errors: "http_url" naming what is wrong.
[[nodiscard]] Result<Url> parse_url(std::string_view url);

struct ClientRequest {
  std::string method = "POST";
  std::string url;
  std::string body;
  std::string content_type = "application/json";
  std::vector<std::pair<std::string, std::string>> headers;
  TimeMs timeout = 5000;
  bool verify_tls = true;
};

struct ClientResponse {
  int status = 0;
  std::string body;
  std::map<std::string, std::string> headers;  // names lower-cased
};

// Sends one request. A response with any status is a success here (the caller judges the
// status); errors are transport failures: "http_url", "http_connect", "http_timeout",
// "http_tls", "http_io".
[[nodiscard]] Result<ClientResponse> request(const ClientRequest& request);

// HMAC-SHA256 of data with key, lower-case hex (webhook signatures).
[[nodiscard]] std::string hmac_sha256_hex(std::string_view key, std::string_view data);

}  // namespace kamwatch::http
