// The Beast/Asio server: one acceptor, one session per connection (plain or TLS), each on its
// own strand; requests are read whole (with the body limit and the read timeout), routed and
// answered one at a time per connection (HTTP/1.1 keep-alive, no pipelining in parallel).
#include "http/server.h"

#include <algorithm>
#include <atomic>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <chrono>
#include <condition_variable>
#include <exception>
#include <future>
#include <mutex>
#include <optional>
#include <thread>
#include <type_traits>
#include <unordered_map>

#include "core/log.h"
#include "http/detail.h"

namespace kamwatch::http {
namespace {

using namespace detail;

// How long stop() lets in-flight requests finish, and how long a connection that is closed
// after an error response keeps draining what the client still sends (so that the client
// reads the response instead of a reset).
constexpr auto kStopGrace = std::chrono::seconds(2);
constexpr auto kLingerTime = std::chrono::milliseconds(500);
constexpr std::size_t kLingerMaxBytes = 4 << 20;
constexpr std::uint32_t kHeaderLimit = 16 * 1024;

// Compares in time that depends only on the expected token's length.
bool constant_time_equal(std::string_view given, std::string_view expected) {
  unsigned char diff = given.size() == expected.size() ? 0 : 1;
  for (std::size_t i = 0; i < expected.size(); ++i) {
    const char g = i < given.size() ? given[i] : '\0';
    diff |= static_cast<unsigned char>(g ^ expected[i]);
  }
  return diff == 0;
}

std::string endpoint_string(const tcp::endpoint& ep) {
  const auto address = ep.address();
  if (address.is_v6()) return "[" + address.to_string() + "]:" + std::to_string(ep.port());
  return address.to_string() + ":" + std::to_string(ep.port());
}

class SessionBase;

// Shared by the server and every session; sessions keep it alive past the server's stop().
struct State {
  ServerOptions options;
  Router router;
  bool loopback = true;
  std::unique_ptr<ssl::context> tls;  // null: plain HTTP

  std::atomic<bool> stopping{false};
  std::mutex mu;
  std::condition_variable cv;
  std::unordered_map<std::uint64_t, std::weak_ptr<SessionBase>> sessions;  // guarded by mu
  std::uint64_t next_id = 0;                                               // guarded by mu

  // False when the server is stopping (the session must close at once).
  bool add(const std::shared_ptr<SessionBase>& session, std::uint64_t& id) {
    std::lock_guard lock(mu);
    if (stopping) return false;
    id = ++next_id;
    sessions.emplace(id, session);
    return true;
  }
  void remove(std::uint64_t id) {
    std::lock_guard lock(mu);
    sessions.erase(id);
    if (sessions.empty()) cv.notify_all();
  }
};

class SessionBase : public std::enable_shared_from_this<SessionBase> {
 public:
  virtual ~SessionBase() = default;
  // Asks the session to close once its current request (if any) is answered.
  virtual void shutdown() = 0;
};

// Parses the target and the headers into a Request, routes it, checks the token and runs the
// handler. Never throws.
Response dispatch(const State& state, bhttp::request<bhttp::string_body>& message,
                  const std::string& remote) {
  Request request;
  request.method = std::string(sv(message.method_string()));
  request.target = std::string(sv(message.target()));
  request.remote = remote;
  const std::string_view target = request.target;
  if (target.empty() || target.front() != '/') {
    return Response::error(400, "the request target must be an absolute path");
  }
  const std::size_t qmark = target.find('?');
  if (!percent_decode(target.substr(0, qmark), request.path, false)) {
    return Response::error(400, "bad percent-encoding in the path");
  }
  if (qmark != std::string_view::npos) {
    std::string_view query = target.substr(qmark + 1);
    while (!query.empty()) {
      const std::size_t amp = query.find('&');
      const std::string_view pair = query.substr(0, amp);
      query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
      if (pair.empty()) continue;
      const std::size_t eq = pair.find('=');
      std::string key;
      std::string value;
      if (!percent_decode(pair.substr(0, eq), key, true) ||
          (eq != std::string_view::npos && !percent_decode(pair.substr(eq + 1), value, true))) {
        return Response::error(400, "bad percent-encoding in the query string");
      }
      request.query[std::move(key)] = std::move(value);
    }
  }
  add_headers(request.headers, message);
  request.body = std::move(message.body());

  const Router::Match match = state.router.match(request);
  if (match.handler == nullptr) {
    if (match.status == 405) {
      Response r = Response::error(405, "method " + request.method + " not allowed for " +
                                            request.path + " (allowed: " + match.allow + ")");
      r.headers.emplace_back("Allow", match.allow);
      return r;
    }
    return Response::error(404, "no such path: " + request.path);
  }

  if (match.mutating) {
    const std::string& token = state.options.bearer_token;
    std::optional<std::string> denied;
    if (token.empty()) {
      if (!state.loopback) {
        denied =
            "this route changes state: off loopback it needs a bearer token, and none is "
            "configured (set http.token_file)";
      }
    } else {
      const auto it = request.headers.find("authorization");
      std::string_view given;
      if (it != request.headers.end() && it->second.size() > 7 &&
          lower(std::string_view(it->second).substr(0, 7)) == "bearer ") {
        given = std::string_view(it->second).substr(7);
        while (!given.empty() && given.front() == ' ') given.remove_prefix(1);
        while (!given.empty() && given.back() == ' ') given.remove_suffix(1);
      }
      if (given.empty() || !constant_time_equal(given, token)) {
        denied = "missing or wrong bearer token";
      }
    }
    if (denied) {
      Response r = Response::error(401, *denied);
      r.headers.emplace_back("WWW-Authenticate", "Bearer");
      return r;
    }
  }

  try {
    return (*match.handler)(request);
  } catch (const std::exception& e) {
    log::error("http handler failed",
               {{"method", request.method}, {"path", request.path}, {"error", e.what()}});
    return Response::error(500, e.what());
  } catch (...) {
    log::error("http handler failed", {{"method", request.method}, {"path", request.path}});
    return Response::error(500, "unknown error");
  }
}

bhttp::response<bhttp::string_body> to_message(Response&& r, unsigned version, bool keep_alive) {
  bhttp::response<bhttp::string_body> res;
  res.version(version);
  res.result(r.status >= 100 && r.status <= 999 ? static_cast<unsigned>(r.status) : 500U);
  res.set(bhttp::field::server, "kamwatch");
  res.set(bhttp::field::content_type, r.content_type);
  for (auto& [name, value] : r.headers) {
    const std::string n = lower(name);
    if (n == "content-length" || n == "transfer-encoding" || n == "connection") continue;
    res.insert(name, value);
  }
  res.body() = std::move(r.body);
  res.keep_alive(keep_alive);
  res.prepare_payload();
  return res;
}

template <bool kTls>
class Session final : public SessionBase {
 public:
  using Stream = std::conditional_t<kTls, beast::ssl_stream<beast::tcp_stream>, beast::tcp_stream>;

  Session(tcp::socket&& socket, std::shared_ptr<State> state, std::string remote)
      : state_(std::move(state)),
        remote_(std::move(remote)),
        stream_(make_stream(std::move(socket), *state_)) {}

  ~Session() override {
    if (id_ != 0) state_->remove(id_);
  }

  void run() {
    if (!state_->add(shared_from_this(), id_)) {
      beast::error_code ec;
      lowest().socket().close(ec);
      return;
    }
    net::dispatch(lowest().get_executor(), [self = self()] { self->begin(); });
  }

  void shutdown() override {
    // A weak reference: when the io_context has already run out of work (this session closed
    // meanwhile), the lambda stays queued and must not keep the session alive.
    net::post(lowest().get_executor(), [weak = weak_from_this()] {
      const auto base = weak.lock();
      if (!base) return;
      auto& self = static_cast<Session&>(*base);
      // Waiting for a request (or the TLS handshake): nothing in flight, close now. Otherwise
      // the write completion sees `stopping` and closes after the response.
      if (self.cancelable_) self.lowest().close();
    });
  }

 private:
  static Stream make_stream(tcp::socket&& socket, State& state) {
    if constexpr (kTls) {
      return Stream(std::move(socket), *state.tls);
    } else {
      return Stream(std::move(socket));
    }
  }

  std::shared_ptr<Session> self() { return std::static_pointer_cast<Session>(shared_from_this()); }
  beast::tcp_stream& lowest() { return beast::get_lowest_layer(stream_); }
  std::chrono::milliseconds timeout() const {
    return std::chrono::milliseconds(std::max<TimeMs>(state_->options.request_timeout, 1));
  }

  void begin() {
    if constexpr (kTls) {
      lowest().expires_after(timeout());
      cancelable_ = true;
      stream_.async_handshake(ssl::stream_base::server, [self = self()](beast::error_code ec) {
        self->cancelable_ = false;
        if (ec || self->state_->stopping) return self->close_now();
        self->read();
      });
    } else {
      read();
    }
  }

  void read() {
    parser_.emplace();
    parser_->body_limit(state_->options.max_body_bytes);
    parser_->header_limit(kHeaderLimit);
    lowest().expires_after(timeout());
    cancelable_ = true;
    bhttp::async_read_header(
        stream_, buffer_, *parser_,
        [self = self()](beast::error_code ec, std::size_t) { self->on_header(ec); });
  }

  void on_header(beast::error_code ec) {
    if (ec) return on_read(ec);
    // A client that announced its body with "Expect: 100-continue" (curl does for larger
    // bodies) waits for this interim response before sending it.
    const auto& header = parser_->get();
    if (!parser_->is_done() && header.version() >= 11 &&
        beast::iequals(header[bhttp::field::expect], "100-continue")) {
      cancelable_ = false;
      continue_ = std::make_unique<bhttp::response<bhttp::empty_body>>(bhttp::status::continue_,
                                                                       header.version());
      bhttp::async_write(stream_, *continue_,
                         [self = self()](beast::error_code write_ec, std::size_t) {
                           self->continue_.reset();
                           if (write_ec) return self->close_now();
                           if (self->state_->stopping) return self->close();
                           self->read_body();
                         });
      return;
    }
    read_body();
  }

  void read_body() {
    cancelable_ = true;
    bhttp::async_read(stream_, buffer_, *parser_,
                      [self = self()](beast::error_code ec, std::size_t) { self->on_read(ec); });
  }

  void on_read(beast::error_code ec) {
    cancelable_ = false;
    if (ec == bhttp::error::end_of_stream || ec == beast::error::timeout ||
        ec == net::error::operation_aborted) {
      return close();
    }
    if (ec == bhttp::error::body_limit) {
      return respond(
          Response::error(413, "the request body is larger than " +
                                   std::to_string(state_->options.max_body_bytes) + " bytes"),
          11, true, true);
    }
    if (ec == bhttp::error::header_limit) {
      return respond(Response::error(431, "the request headers are too large"), 11, true, true);
    }
    if (ec.category() == bhttp::make_error_code(bhttp::error::bad_target).category() &&
        ec != bhttp::error::partial_message) {
      return respond(Response::error(400, "malformed request: " + ec.message()), 11, true, true);
    }
    if (ec) return close_now();  // reset, broken pipe, TLS error: nobody to answer

    bhttp::request<bhttp::string_body> message = parser_->release();
    parser_.reset();
    const unsigned version = message.version();
    const bool keep_alive = message.keep_alive();
    const std::string method(sv(message.method_string()));
    const std::string target(sv(message.target()));
    Response response = dispatch(*state_, message, remote_);
    log::debug(
        "http request",
        {{"method", method}, {"target", target}, {"status", response.status}, {"remote", remote_}});
    // A 400 from dispatch (bad target or escape) leaves the connection usable: the request
    // was read whole.
    respond(std::move(response), version, !keep_alive, false);
  }

  // Writes the response; closes afterwards when `close` (draining the rest of a request that
  // was not read whole when `linger`).
  void respond(Response&& response, unsigned version, bool close, bool linger) {
    response_ = std::make_unique<bhttp::response<bhttp::string_body>>(
        to_message(std::move(response), version, !close));
    lowest().expires_after(timeout());
    bhttp::async_write(stream_, *response_,
                       [self = self(), close, linger](beast::error_code ec, std::size_t) {
                         self->response_.reset();
                         if (ec) return self->close_now();
                         if (self->state_->stopping) return self->close();
                         if (close) return linger ? self->linger() : self->close();
                         self->read();
                       });
  }

  // Orderly close: TLS close_notify, or a TCP FIN.
  void close() {
    if constexpr (kTls) {
      if (state_->stopping) return close_now();
      lowest().expires_after(kLingerTime);
      stream_.async_shutdown([self = self()](beast::error_code) { self->close_now(); });
    } else {
      beast::error_code ec;
      lowest().socket().shutdown(tcp::socket::shutdown_send, ec);
      close_now();
    }
  }

  void linger() {
    if constexpr (kTls) {
      close();
    } else {
      beast::error_code ec;
      lowest().socket().shutdown(tcp::socket::shutdown_send, ec);
      lowest().expires_after(kLingerTime);
      drain(0);
    }
  }

  void drain(std::size_t drained) {
    if (drained > kLingerMaxBytes || state_->stopping) return close_now();
    if (!discard_) discard_ = std::make_unique<char[]>(kDiscardSize);
    cancelable_ = true;  // the answer is out: stop() may close at once
    lowest().async_read_some(net::buffer(discard_.get(), kDiscardSize),
                             [self = self(), drained](beast::error_code ec, std::size_t n) {
                               self->cancelable_ = false;
                               if (ec) return self->close_now();
                               self->drain(drained + n);
                             });
  }

  void close_now() { lowest().close(); }

  static constexpr std::size_t kDiscardSize = 16 * 1024;

  std::shared_ptr<State> state_;
  std::string remote_;
  Stream stream_;
  beast::flat_buffer buffer_;
  std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
  std::unique_ptr<bhttp::response<bhttp::string_body>> response_;
  std::unique_ptr<bhttp::response<bhttp::empty_body>> continue_;
  std::unique_ptr<char[]> discard_;
  std::uint64_t id_ = 0;
  bool cancelable_ = false;  // only touched on the session's strand
};

struct ListenAddress {
  std::string host;  // without brackets
  std::uint16_t port = 0;
};

Result<ListenAddress> parse_listen(std::string_view listen) {
  const auto bad = [&](std::string_view why) {
    return Error{"http_listen", "bad listen address '" + std::string(listen) +
                                    "': " + std::string(why) +
                                    " (expected HOST:PORT, [IPv6]:PORT or :PORT)"};
  };
  ListenAddress out;
  std::string_view port;
  if (!listen.empty() && listen.front() == '[') {
    const std::size_t close = listen.find(']');
    if (close == std::string_view::npos) return bad("missing ']'");
    out.host = std::string(listen.substr(1, close - 1));
    if (out.host.empty()) return bad("empty IPv6 address");
    if (close + 1 >= listen.size() || listen[close + 1] != ':') return bad("missing port");
    port = listen.substr(close + 2);
  } else {
    const std::size_t colon = listen.rfind(':');
    if (colon == std::string_view::npos) return bad("missing port");
    out.host = std::string(listen.substr(0, colon));
    if (out.host.find(':') != std::string::npos) return bad("IPv6 addresses need brackets");
    if (out.host.empty()) out.host = "0.0.0.0";
    port = listen.substr(colon + 1);
  }
  if (!all_digits(port) || port.size() > 5) return bad("the port must be a number");
  const unsigned long value = std::stoul(std::string(port));
  if (value > 65535) return bad("the port must be at most 65535");
  out.port = static_cast<std::uint16_t>(value);
  return out;
}

class ServerImpl final : public Server {
 public:
  explicit ServerImpl(std::shared_ptr<State> state)
      : state_(std::move(state)),
        acceptor_(net::make_strand(ioc_)),
        accept_retry_(acceptor_.get_executor()) {}

  ~ServerImpl() override { stop(); }

  Result<void> listen(const ListenAddress& address) {
    const std::string shown = state_->options.listen;
    beast::error_code ec;
    tcp::endpoint endpoint;
    const auto ip = net::ip::make_address(address.host, ec);
    if (!ec) {
      endpoint = tcp::endpoint(ip, address.port);
    } else {
      tcp::resolver resolver(ioc_);
      const auto results =
          resolver.resolve(address.host, std::to_string(address.port), tcp::resolver::passive, ec);
      if (ec || results.empty()) {
        return Error{"http_listen", "cannot resolve the listen address '" + shown +
                                        "': " + (ec ? ec.message() : "no address")};
      }
      endpoint = results.begin()->endpoint();
    }
    const auto fail = [&](std::string_view what) {
      return Error{"http_listen",
                   "cannot " + std::string(what) + " " + shown + ": " + ec.message()};
    };
    acceptor_.open(endpoint.protocol(), ec);
    if (ec) return fail("open a socket for");
    acceptor_.set_option(net::socket_base::reuse_address(true), ec);
    if (ec) return fail("configure");
    acceptor_.bind(endpoint, ec);
    if (ec) return fail("bind to");
    acceptor_.listen(net::socket_base::max_listen_connections, ec);
    if (ec) return fail("listen on");
    const tcp::endpoint bound = acceptor_.local_endpoint(ec);
    if (ec) return fail("read the bound address of");
    port_ = bound.port();
    const auto bound_address = bound.address();
    state_->loopback = is_loopback_host(bound_address.to_string());
    return ok();
  }

  void run_threads() {
    do_accept();
    const int n = std::max(1, state_->options.threads);
    threads_.reserve(static_cast<std::size_t>(n));
    for (int i = 0; i < n; ++i) {
      threads_.emplace_back([this] {
        for (;;) {
          try {
            ioc_.run();
            return;
          } catch (const std::exception& e) {
            // Handlers catch their exceptions; this is a last resort so a thread never dies.
            log::error("http server thread: unexpected exception", {{"error", e.what()}});
          }
        }
      });
    }
    log::info("http server listening", {{"listen", state_->options.listen},
                                        {"port", static_cast<int>(port_)},
                                        {"tls", state_->tls != nullptr},
                                        {"loopback", state_->loopback}});
  }

  [[nodiscard]] std::uint16_t port() const override { return port_; }
  [[nodiscard]] bool loopback() const override { return state_->loopback; }

  void stop() override {
    std::lock_guard stop_lock(stop_mu_);
    if (stopped_) return;
    stopped_ = true;
    std::vector<std::shared_ptr<SessionBase>> sessions;
    {
      std::lock_guard lock(state_->mu);
      state_->stopping = true;
      for (auto& [id, weak] : state_->sessions) {
        if (auto s = weak.lock()) sessions.push_back(std::move(s));
      }
    }
    if (!threads_.empty()) {
      std::promise<void> closed;
      net::post(acceptor_.get_executor(), [this, &closed] {
        beast::error_code ec;
        acceptor_.close(ec);
        accept_retry_.cancel();
        closed.set_value();
      });
      closed.get_future().wait_for(kStopGrace);
      for (auto& s : sessions) s->shutdown();
      sessions.clear();  // let them go: each closes on its own strand
      {
        std::unique_lock lock(state_->mu);
        state_->cv.wait_for(lock, kStopGrace, [&] { return state_->sessions.empty(); });
      }
      ioc_.stop();
      for (auto& t : threads_) t.join();
      threads_.clear();
      log::info("http server stopped", {{"port", static_cast<int>(port_)}});
    }
  }

 private:
  void do_accept() {
    acceptor_.async_accept(net::make_strand(ioc_), [this](beast::error_code ec, tcp::socket s) {
      on_accept(ec, std::move(s));
    });
  }

  void on_accept(beast::error_code ec, tcp::socket socket) {
    if (state_->stopping || !acceptor_.is_open()) return;
    if (ec) {
      if (ec == net::error::operation_aborted) return;
      // E.g. out of file descriptors: retry shortly instead of spinning.
      log::warn("http accept failed", {{"error", ec.message()}});
      accept_retry_.expires_after(std::chrono::milliseconds(100));
      accept_retry_.async_wait([this](beast::error_code wait_ec) {
        if (!wait_ec && !state_->stopping) do_accept();
      });
      return;
    }
    beast::error_code peer_ec;
    const auto peer = socket.remote_endpoint(peer_ec);
    std::string remote = peer_ec ? std::string("?") : endpoint_string(peer);
    if (state_->tls) {
      std::make_shared<Session<true>>(std::move(socket), state_, std::move(remote))->run();
    } else {
      std::make_shared<Session<false>>(std::move(socket), state_, std::move(remote))->run();
    }
    do_accept();
  }

  std::shared_ptr<State> state_;
  net::io_context ioc_;
  tcp::acceptor acceptor_;
  net::steady_timer accept_retry_;
  std::vector<std::thread> threads_;
  std::uint16_t port_ = 0;
  std::mutex stop_mu_;
  bool stopped_ = false;  // guarded by stop_mu_
};

}  // namespace

Result<std::unique_ptr<Server>> Server::start(ServerOptions options, Router router) {
  auto address = parse_listen(options.listen);
  if (!address.ok()) return address.error();
  auto state = std::make_shared<State>();
  const bool has_cert = !options.tls_cert_file.empty();
  const bool has_key = !options.tls_key_file.empty();
  if (has_cert != has_key) {
    return Error{"http_tls", "TLS needs both a certificate file and a key file (only the " +
                                 std::string(has_cert ? "certificate" : "key") + " is set)"};
  }
  if (has_cert) {
    state->tls = std::make_unique<ssl::context>(ssl::context::tls_server);
    state->tls->set_options(kTlsOptions | ssl::context::single_dh_use);
    beast::error_code ec;
    state->tls->use_certificate_chain_file(options.tls_cert_file, ec);
    if (ec) {
      return Error{"http_tls", "cannot load the TLS certificate chain " + options.tls_cert_file +
                                   ": " + ec.message()};
    }
    state->tls->use_private_key_file(options.tls_key_file, ssl::context::pem, ec);
    if (ec) {
      return Error{"http_tls",
                   "cannot load the TLS private key " + options.tls_key_file + ": " + ec.message()};
    }
  }
  state->options = std::move(options);
  state->router = std::move(router);
  auto server = std::make_unique<ServerImpl>(state);
  if (auto listened = server->listen(*address); !listened.ok()) return listened.error();
  server->run_threads();
  return std::unique_ptr<Server>(std::move(server));
}

}  // namespace kamwatch::http
