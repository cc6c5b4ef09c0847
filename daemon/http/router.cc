// Router, Response helpers, percent-decoding and the loopback test: the parts of the server that
// need no sockets.
#include <algorithm>
#include <boost/asio/ip/address.hpp>
#include <stdexcept>

#include "core/json_writer.h"
#include "http/detail.h"
#include "http/server.h"

namespace kamwatch::http {
namespace {

// "/a/b" -> {"a", "b"}; "/" -> {}; "/a/" -> {"a", ""}. The leading '/' is required.
std::vector<std::string_view> split_path(std::string_view path) {
  std::vector<std::string_view> out;
  if (!path.empty() && path.front() == '/') path.remove_prefix(1);
  if (path.empty()) return out;
  for (;;) {
    const std::size_t slash = path.find('/');
    out.push_back(path.substr(0, slash));
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash + 1);
  }
  return out;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool is_param(std::string_view segment) {
  return segment.size() >= 2 && segment.front() == '{' && segment.back() == '}';
}

}  // namespace

Response Response::json(int status, std::string body) {
  Response r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

Response Response::text(int status, std::string body, std::string content_type) {
  Response r;
  r.status = status;
  r.body = std::move(body);
  r.content_type = std::move(content_type);
  return r;
}

Response Response::error(int status, std::string_view message) {
  JsonWriter w;
  w.begin_object().field("error", message).end_object();
  return json(status, w.take());
}

void Router::add(std::string method, std::string pattern, Handler handler, bool mutating) {
  if (pattern.empty() || pattern.front() != '/') {
    throw std::invalid_argument("route pattern must start with '/': " + pattern);
  }
  Route route;
  route.method = std::move(method);
  for (const std::string_view segment : split_path(pattern)) {
    if (segment == "{}") throw std::invalid_argument("route parameter without a name: " + pattern);
    route.segments.emplace_back(segment);
  }
  route.handler = std::move(handler);
  route.mutating = mutating;
  routes_.push_back(std::move(route));
}

Router::Match Router::match(Request& request) const {
  // Match on the raw path's segments, decoded one by one, so that an encoded '/' ("%2F") stays
  // inside its segment. Requests built without a target (tests) use the decoded path.
  std::vector<std::string> segments;
  const std::string_view target = request.target;
  if (!target.empty() && target.front() == '/') {
    for (const std::string_view raw : split_path(target.substr(0, target.find('?')))) {
      std::string decoded;
      if (!percent_decode(raw, decoded, false)) decoded.assign(raw);
      segments.push_back(std::move(decoded));
    }
  } else {
    for (const std::string_view s : split_path(request.path)) segments.emplace_back(s);
  }

  Match result;
  result.status = 404;
  const Route* best = nullptr;
  int best_literals = -1;
  std::map<std::string, std::string> best_params;
  std::vector<std::string> allow;
  for (const Route& route : routes_) {
    if (route.segments.size() != segments.size()) continue;
    std::map<std::string, std::string> params;
    int literals = 0;
    bool ok = true;
    for (std::size_t i = 0; i < segments.size() && ok; ++i) {
      const std::string& want = route.segments[i];
      if (is_param(want)) {
        if (segments[i].empty())
          ok = false;
        else
          params[want.substr(1, want.size() - 2)] = segments[i];
      } else if (want == segments[i]) {
        ++literals;
      } else {
        ok = false;
      }
    }
    if (!ok) continue;
    if (route.method != request.method) {
      if (std::find(allow.begin(), allow.end(), route.method) == allow.end()) {
        allow.push_back(route.method);
      }
      continue;
    }
    // The most literal segments win ("/accounts/search" before "/accounts/{id}"); then the
    // first added.
    if (literals > best_literals) {
      best = &route;
      best_literals = literals;
      best_params = std::move(params);
    }
  }
  if (best != nullptr) {
    result.handler = &best->handler;
    result.mutating = best->mutating;
    result.status = 200;
    request.params = std::move(best_params);
  } else if (!allow.empty()) {
    result.status = 405;
    for (const std::string& m : allow) {
      if (!result.allow.empty()) result.allow += ", ";
      result.allow += m;
    }
  }
  return result;
}

bool percent_decode(std::string_view in, std::string& out, bool plus_is_space) {
  out.clear();
  out.reserve(in.size());
  for (std::size_t i = 0; i < in.size(); ++i) {
    const char c = in[i];
    if (c == '%') {
      if (in.size() - i < 3) return false;  // fewer than two characters follow
      const int hi = hex_value(in[i + 1]);
      const int lo = hex_value(in[i + 2]);
      if (hi < 0 || lo < 0) return false;
      out.push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else if (c == '+' && plus_is_space) {
      out.push_back(' ');
    } else {
      out.push_back(c);
    }
  }
  return true;
}

bool is_loopback_host(std::string_view host) {
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  const std::string name = detail::lower(host);
  if (name == "localhost" || name == "localhost.") return true;
  boost::system::error_code ec;
  const auto address = boost::asio::ip::make_address(name, ec);
  if (ec) return false;
  if (address.is_v6() && address.to_v6().is_v4_mapped()) {
    return boost::asio::ip::make_address_v4(boost::asio::ip::v4_mapped, address.to_v6())
        .is_loopback();
  }
  return address.is_loopback();
}

}  // namespace kamwatch::http
