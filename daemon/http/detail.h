#pragma once
// Internal to daemon/http: what the server (server.cc), the client (client.cc) and the router
// (router.cc) share: the Boost namespace aliases, Beast string views as std ones, ASCII
// lower-casing, the digits test, joining header fields into a map, and the TLS protocol floor.
// Thread-safety: pure functions.
#include <algorithm>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cctype>
#include <map>
#include <string>
#include <string_view>

namespace kamwatch::http::detail {

namespace net = boost::asio;
namespace ssl = boost::asio::ssl;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = boost::asio::ip::tcp;

inline std::string_view sv(beast::string_view s) { return {s.data(), s.size()}; }

// ASCII lower case.
inline std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

// Not empty and only 0-9 (e.g. a port).
inline bool all_digits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// Adds a message's header fields to `headers`, names lower-cased, repeated names joined with
// ", ".
template <typename Fields>
void add_headers(std::map<std::string, std::string>& headers, const Fields& fields) {
  for (const auto& field : fields) {
    auto [it, inserted] = headers.try_emplace(lower(sv(field.name_string())), sv(field.value()));
    if (!inserted) {
      it->second += ", ";
      it->second.append(field.value().data(), field.value().size());
    }
  }
}

// TLS 1.2 and newer, for the client and the server alike.
inline constexpr auto kTlsOptions = ssl::context::default_workarounds | ssl::context::no_sslv2 |
                                    ssl::context::no_sslv3 | ssl::context::no_tlsv1 |
                                    ssl::context::no_tlsv1_1;

}  // namespace kamwatch::http::detail
