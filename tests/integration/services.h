#pragma once
// Test-kit services for integration tests against the REAL Alertmanager and Prometheus (the
// Debian binaries prometheus-alertmanager and prometheus): a recording HTTP receiver (webhook
// sink target, Alertmanager webhook receiver), an Alertmanager and a Prometheus child process
// on free loopback ports with their config and data in a temp dir, and small HTTP helpers.
// Failures are reported with ADD_FAILURE (non-fatal); functions that can fail return bool or an
// empty value so callers can ASSERT on them.
// Thread-safety: HttpReceiver is thread-safe. Alertmanager and Prometheus belong to the test's
// main thread (their children get SIGKILL when the thread that started them exits).
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace kamwatch::http {
class Server;
}

namespace kamwatch::testing {

// A port that was free a moment ago on 127.0.0.1 (bind to port 0, read it, close), and never
// one this process was given before: two daemons started one after the other get different
// ports even when the first has not bound its port yet.
int free_port();

// ---- HTTP helpers (kamwatch::http::request) ----

// GET url; the status must be 200, else the test fails (ADD_FAILURE) and "" is returned.
std::string http_get(const std::string& url);
// Any request; returns {status, body}. A transport failure returns {0, "<code>: <message>"}
// (not a test failure: tests may expect it). A "Content-Type" header sets the request's
// content type (default application/json).
std::pair<int, std::string> http_call(
    const std::string& method, const std::string& url, const std::string& body = "",
    const std::vector<std::pair<std::string, std::string>>& headers = {});
// Percent-encodes everything but RFC 3986 unreserved characters.
std::string url_encode(const std::string& s);

// ---- HttpReceiver ----

struct ReceivedRequest {
  std::string method;
  std::string target;  // as received, with the query
  std::string path;    // percent-decoded, without the query
  std::map<std::string, std::string> query;
  std::map<std::string, std::string> headers;  // names lower-cased
  std::string body;
  int status = 200;  // what the receiver answered
  std::chrono::steady_clock::time_point at;
};

// A local HTTP server on 127.0.0.1:<free port> that records every request (GET, POST, PUT,
// PATCH, DELETE; any path up to 8 segments) and answers 200 "{}", or an injected status.
class HttpReceiver {
 public:
  HttpReceiver();  // starts serving; fails the test when it cannot
  ~HttpReceiver();
  HttpReceiver(const HttpReceiver&) = delete;
  HttpReceiver& operator=(const HttpReceiver&) = delete;

  // "http://127.0.0.1:PORT" (no trailing slash).
  [[nodiscard]] std::string url() const;
  [[nodiscard]] int port() const { return port_; }

  [[nodiscard]] std::vector<ReceivedRequest> requests() const;
  [[nodiscard]] std::size_t count() const;
  void clear();
  // Waits until pred(requests so far) holds; false on timeout (scaled, see time_scale()). pred
  // runs under the receiver's lock: it must not call back into the receiver.
  bool wait_for(const std::function<bool(const std::vector<ReceivedRequest>&)>& pred,
                std::chrono::milliseconds timeout) const;
  // The next n requests are answered with `status` (and still recorded), e.g. to test retries.
  void fail_next(int n, int status = 500);
  // Stops serving (also done by the destructor).
  void stop();

 private:
  std::unique_ptr<http::Server> server_;
  int port_ = 0;
  mutable std::mutex mu_;
  mutable std::condition_variable cv_;
  std::vector<ReceivedRequest> requests_;
  int fail_remaining_ = 0;
  int fail_status_ = 500;
};

namespace detail {
class ChildProcess;
}

// ---- Alertmanager ----

// One alert as Alertmanager reports it (GET /api/v2/alerts: state is status.state:
// "active", "suppressed" or "unprocessed") or as a webhook notification carries it (state is
// the alert's status: "firing" or "resolved").
struct AmAlert {
  std::map<std::string, std::string> labels;
  std::map<std::string, std::string> annotations;
  std::string state;
  std::string starts_at;
  std::string ends_at;
  std::string generator_url;
  std::string fingerprint;
};

// One webhook notification (payload version 4) Alertmanager sent to the receiver.
struct AmNotification {
  std::string status;  // "firing" or "resolved"
  std::string receiver;
  std::string group_key;
  std::map<std::string, std::string> group_labels;
  std::map<std::string, std::string> common_labels;
  std::vector<AmAlert> alerts;
};

// The Alertmanager webhook notifications among the requests (bodies that are not such a
// payload are skipped), in arrival order.
std::vector<AmNotification> notifications(const std::vector<ReceivedRequest>& requests);
std::vector<AmNotification> notifications(const HttpReceiver& receiver);

// The real Alertmanager: one route (receiver "test-webhook", group_by ['...'], group_wait 1s,
// group_interval 1s, repeat_interval 1h) to a webhook with send_resolved: true. Clustering off.
// Notes: GET /api/v2/alerts does not list alerts whose endsAt has passed, so observe
// resolution through the webhook; and Alertmanager sends a "resolved" notification only for a
// group it already notified as firing (wait for the firing one before resolving).
class Alertmanager {
 public:
  // webhook_url: where notifications go, e.g. receiver.url() + "/alertmanager".
  explicit Alertmanager(std::string webhook_url);
  ~Alertmanager();  // kills the process; removes the temp dir unless the test failed
  Alertmanager(const Alertmanager&) = delete;
  Alertmanager& operator=(const Alertmanager&) = delete;

  // Starts the binary and waits until GET /-/ready answers 200 (30 s); false (and a test
  // failure with the log tail) otherwise.
  bool start();
  void stop();     // SIGTERM, wait (SIGKILL after 15 s)
  void kill();     // SIGKILL, wait
  bool restart();  // stop() + start() on the same port and storage
  [[nodiscard]] bool running() const;

  [[nodiscard]] std::string url() const;  // "http://127.0.0.1:PORT"
  [[nodiscard]] int port() const { return port_; }
  [[nodiscard]] const std::string& dir() const { return dir_; }
  [[nodiscard]] std::string log_tail(std::size_t lines = 40) const;

  // GET /api/v2/alerts (active, silenced, inhibited and unprocessed; not resolved ones).
  [[nodiscard]] std::vector<AmAlert> alerts() const;

 private:
  std::string dir_;
  int port_ = 0;
  std::unique_ptr<detail::ChildProcess> process_;
};

// ---- Prometheus ----

struct PromSample {
  std::map<std::string, std::string> labels;
  double value = 0;
};

// The real Prometheus: global scrape_interval 1s, one job "kamwatch" scraping `target`
// (host:port, path /metrics).
class Prometheus {
 public:
  explicit Prometheus(std::string target);
  ~Prometheus();  // kills the process; removes the temp dir unless the test failed
  Prometheus(const Prometheus&) = delete;
  Prometheus& operator=(const Prometheus&) = delete;

  // Starts the binary and waits until GET /-/ready answers 200 (30 s).
  bool start();
  void stop();  // SIGTERM, wait (SIGKILL after 15 s)
  [[nodiscard]] bool running() const;

  [[nodiscard]] std::string url() const;  // "http://127.0.0.1:PORT"
  [[nodiscard]] int port() const { return port_; }
  [[nodiscard]] const std::string& dir() const { return dir_; }
  [[nodiscard]] std::string log_tail(std::size_t lines = 40) const;

  // GET /api/v1/query?query=expr: the instant vector (a scalar comes back as one sample
  // without labels). Empty on error (which also fails the test) or no data.
  [[nodiscard]] std::vector<PromSample> query(const std::string& expr) const;
  // Health of the job's first active target: "up", "down" or "unknown" (also when the job has
  // no target yet).
  [[nodiscard]] std::string target_health(const std::string& job) const;

 private:
  std::string dir_;
  int port_ = 0;
  std::unique_ptr<detail::ChildProcess> process_;
};

}  // namespace kamwatch::testing
