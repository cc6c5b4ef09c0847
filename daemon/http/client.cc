// The blocking client: every step runs asynchronously on a private io_context so that one
// deadline bounds resolve, connect, TLS handshake, write and read together.
#include "http/client.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/ssl.h>

#include <algorithm>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <chrono>

#include "http/detail.h"

namespace kamwatch::http {
namespace {

using namespace detail;
using Clock = std::chrono::steady_clock;

constexpr std::uint64_t kMaxResponseBody = 16 << 20;

bool has_line_break(std::string_view s) {
  return s.find_first_of("\r\n") != std::string_view::npos;
}

// Runs the io_context until the started operation completed.
void run_until_done(net::io_context& ioc) {
  ioc.restart();
  ioc.run();
}

class Exchange {
 public:
  Exchange(const ClientRequest& request, const Url& url, Clock::time_point deadline)
      : request_(request), url_(url), deadline_(deadline) {}

  Result<ClientResponse> run() {
    tcp::resolver resolver(ioc_);
    net::steady_timer timer(ioc_);
    bool expired = false;
    beast::error_code ec;
    tcp::resolver::results_type endpoints;
    timer.expires_at(deadline_);
    timer.async_wait([&](beast::error_code e) {
      if (!e) {
        expired = true;
        resolver.cancel();
      }
    });
    resolver.async_resolve(url_.host, url_.port,
                           [&](beast::error_code e, tcp::resolver::results_type r) {
                             ec = e;
                             endpoints = std::move(r);
                             timer.cancel();
                           });
    run_until_done(ioc_);
    if (expired) return timeout_error("resolving the host");
    if (ec) return Error{"http_connect", "cannot resolve " + url_.host + ": " + ec.message()};
    return url_.scheme == "https" ? run_tls(endpoints) : run_plain(endpoints);
  }

 private:
  Result<ClientResponse> run_plain(const tcp::resolver::results_type& endpoints) {
    beast::tcp_stream stream(ioc_);
    if (auto connected = connect(stream, endpoints); !connected.ok()) return connected.error();
    return exchange(stream);
  }

  Result<ClientResponse> run_tls(const tcp::resolver::results_type& endpoints) {
    ssl::context ctx(ssl::context::tls_client);
    ctx.set_options(kTlsOptions);
    beast::error_code ec;
    if (request_.verify_tls) {
      ctx.set_default_verify_paths(ec);
      if (ec) return Error{"http_tls", "cannot load the system CA certificates: " + ec.message()};
      ctx.set_verify_mode(ssl::verify_peer);
    } else {
      ctx.set_verify_mode(ssl::verify_none);
    }
    beast::ssl_stream<beast::tcp_stream> stream(ioc_, ctx);
    beast::error_code ip_ec;
    net::ip::make_address(url_.host, ip_ec);
    // SNI takes host names only, not IP literals.
    if (ip_ec && !SSL_set_tlsext_host_name(stream.native_handle(), url_.host.c_str())) {
      return Error{"http_tls", "cannot set the TLS server name " + url_.host};
    }
    if (request_.verify_tls) stream.set_verify_callback(ssl::host_name_verification(url_.host));
    if (auto connected = connect(beast::get_lowest_layer(stream), endpoints); !connected.ok()) {
      return connected.error();
    }
    beast::get_lowest_layer(stream).expires_at(deadline_);
    stream.async_handshake(ssl::stream_base::client, [&](beast::error_code e) { ec = e; });
    run_until_done(ioc_);
    if (ec) {
      if (timed_out(ec)) return timeout_error("the TLS handshake");
      return Error{"http_tls", "TLS handshake with " + where() + " failed: " + ec.message()};
    }
    return exchange(stream);
  }

  Result<void> connect(beast::tcp_stream& stream, const tcp::resolver::results_type& endpoints) {
    beast::error_code ec;
    stream.expires_at(deadline_);
    stream.async_connect(endpoints, [&](beast::error_code e, const tcp::endpoint&) { ec = e; });
    run_until_done(ioc_);
    if (!ec) return ok();
    if (timed_out(ec)) return timeout_error("connecting");
    return Error{"http_connect", "cannot connect to " + where() + ": " + ec.message()};
  }

  template <typename Stream>
  Result<ClientResponse> exchange(Stream& stream) {
    bhttp::request<bhttp::string_body> message;
    const bhttp::verb verb = bhttp::string_to_verb(request_.method);
    if (verb == bhttp::verb::unknown) {
      message.method_string(request_.method);
    } else {
      message.method(verb);
    }
    message.target(url_.target);
    message.version(11);
    const bool default_port = (url_.scheme == "http" && url_.port == "80") ||
                              (url_.scheme == "https" && url_.port == "443");
    std::string host = url_.host.find(':') != std::string::npos ? "[" + url_.host + "]" : url_.host;
    if (!default_port) host += ":" + url_.port;
    message.set(bhttp::field::host, host);
    message.set(bhttp::field::user_agent, "kamwatch");
    const bool body_method =
        verb == bhttp::verb::post || verb == bhttp::verb::put || verb == bhttp::verb::patch;
    if (!request_.content_type.empty() && (body_method || !request_.body.empty())) {
      message.set(bhttp::field::content_type, request_.content_type);
    }
    for (const auto& [name, value] : request_.headers) {
      if (has_line_break(name) || has_line_break(value)) {
        return Error{"http_io", "request header '" + lower(name) + "' contains a line break"};
      }
      message.set(name, value);
    }
    message.keep_alive(false);
    message.body() = request_.body;
    message.prepare_payload();

    beast::error_code ec;
    auto& lowest = beast::get_lowest_layer(stream);
    lowest.expires_at(deadline_);
    bhttp::async_write(stream, message, [&](beast::error_code e, std::size_t) { ec = e; });
    run_until_done(ioc_);
    if (ec) {
      if (timed_out(ec)) return timeout_error("sending the request");
      return Error{"http_io", "sending the request to " + where() + " failed: " + ec.message()};
    }

    beast::flat_buffer buffer;
    bhttp::response_parser<bhttp::string_body> parser;
    parser.body_limit(kMaxResponseBody);
    if (verb == bhttp::verb::head) parser.skip(true);
    lowest.expires_at(deadline_);
    bhttp::async_read(stream, buffer, parser, [&](beast::error_code e, std::size_t) { ec = e; });
    run_until_done(ioc_);
    // A TLS peer that closes without close_notify after a complete response is fine.
    if (ec == ssl::error::stream_truncated && parser.is_done()) ec = {};
    if (ec) {
      if (timed_out(ec)) return timeout_error("waiting for the response");
      return Error{"http_io", "reading the response from " + where() + " failed: " + ec.message()};
    }
    beast::error_code ignored;
    lowest.socket().shutdown(tcp::socket::shutdown_both, ignored);
    lowest.close();

    auto response = parser.release();
    ClientResponse out;
    out.status = static_cast<int>(response.result_int());
    out.body = std::move(response.body());
    add_headers(out.headers, response);
    return out;
  }

  bool timed_out(const beast::error_code& ec) const {
    return ec == beast::error::timeout || Clock::now() >= deadline_;
  }

  Error timeout_error(std::string_view step) const {
    return Error{"http_timeout", std::string(step) + " (" + where() + ") timed out after " +
                                     std::to_string(request_.timeout) + " ms"};
  }

  std::string where() const { return url_.scheme + "://" + url_.host + ":" + url_.port; }

  const ClientRequest& request_;
  const Url& url_;
  Clock::time_point deadline_;
  net::io_context ioc_;
};

}  // namespace

Result<Url> parse_url(std::string_view text) {
  const auto bad = [&](std::string_view why) {
    return Error{"http_url", "bad URL '" + std::string(text) + "': " + std::string(why)};
  };
  for (const char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u == 0x7f) return bad("it contains whitespace or control characters");
  }
  const std::size_t sep = text.find("://");
  if (sep == std::string_view::npos) return bad("missing scheme (http:// or https://)");
  Url url;
  url.scheme = lower(text.substr(0, sep));
  if (url.scheme != "http" && url.scheme != "https") {
    return bad("unsupported scheme '" + url.scheme + "' (http or https)");
  }
  const std::string_view rest = text.substr(sep + 3);
  const std::size_t end = rest.find_first_of("/?#");
  const std::string_view authority = rest.substr(0, end);
  std::string_view tail = end == std::string_view::npos ? std::string_view() : rest.substr(end);
  if (authority.find('@') != std::string_view::npos) {
    return bad("credentials in the URL are not supported");
  }
  std::string_view port;
  bool has_port = false;
  if (!authority.empty() && authority.front() == '[') {
    const std::size_t close = authority.find(']');
    if (close == std::string_view::npos) return bad("missing ']' after the IPv6 address");
    url.host = std::string(authority.substr(1, close - 1));
    boost::system::error_code ec;
    net::ip::make_address_v6(url.host, ec);
    if (ec) return bad("'" + url.host + "' is not an IPv6 address");
    const std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return bad("unexpected text after ']'");
      port = after.substr(1);
      has_port = true;
    }
  } else {
    const std::size_t colon = authority.find(':');
    url.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) {
      port = authority.substr(colon + 1);
      has_port = true;
    }
  }
  if (url.host.empty()) return bad("missing host");
  if (has_port) {
    if (!all_digits(port) || port.size() > 5) return bad("the port must be a number");
    const unsigned long value = std::stoul(std::string(port));
    if (value == 0 || value > 65535) return bad("the port must be between 1 and 65535");
    url.port = std::to_string(value);
  } else {
    url.port = url.scheme == "https" ? "443" : "80";
  }
  tail = tail.substr(0, tail.find('#'));
  if (tail.empty() || tail.front() == '?') {
    url.target = "/" + std::string(tail);
  } else {
    url.target = std::string(tail);
  }
  return url;
}

Result<ClientResponse> request(const ClientRequest& request) {
  auto url = parse_url(request.url);
  if (!url.ok()) return url.error();
  const auto deadline =
      Clock::now() + std::chrono::milliseconds(std::max<TimeMs>(request.timeout, 1));
  return Exchange(request, *url, deadline).run();
}

std::string hmac_sha256_hex(std::string_view key, std::string_view data) {
  static const unsigned char kEmpty = 0;
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  const void* key_bytes = key.empty() ? static_cast<const void*>(&kEmpty) : key.data();
  const auto* data_bytes =
      data.empty() ? &kEmpty : reinterpret_cast<const unsigned char*>(data.data());
  if (HMAC(EVP_sha256(), key_bytes, static_cast<int>(key.size()), data_bytes, data.size(), digest,
           &length) == nullptr) {
    return {};
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(length * 2);
  for (unsigned int i = 0; i < length; ++i) {
    out.push_back(kHex[digest[i] >> 4]);
    out.push_back(kHex[digest[i] & 0x0f]);
  }
  return out;
}

}  // namespace kamwatch::http
