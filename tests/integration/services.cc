#include "services.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <simdjson.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cctype>
#include <cstdlib>
#include <deque>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>

#include "harness.h"
#include "http/client.h"
#include "http/server.h"

namespace kamwatch::testing {

namespace detail {

// A child process whose stdout and stderr are appended to a log file. Like harness.h's Daemon,
// which always runs the kamwatch binary; this one runs any program and asks the kernel to
// SIGKILL the child when the starting thread dies (no stray servers after a crashed test).
class ChildProcess {
 public:
  ChildProcess(std::string program, std::vector<std::string> args, std::string log_path)
      : program_(std::move(program)), args_(std::move(args)), log_path_(std::move(log_path)) {}
  ~ChildProcess() { kill(); }

  bool start() {
    if (pid_ > 0) return true;
    // Everything the child needs is prepared before fork: after it, only async-signal-safe
    // calls (the parent has threads).
    std::vector<std::string> full = {program_};
    full.insert(full.end(), args_.begin(), args_.end());
    std::vector<char*> argv;
    for (auto& a : full) argv.push_back(a.data());
    argv.push_back(nullptr);
    const pid_t parent = getpid();
    const pid_t pid = fork();
    if (pid < 0) {
      ADD_FAILURE() << "fork failed for " << program_;
      return false;
    }
    if (pid == 0) {
      const int log = open(log_path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
      const int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
      if (log >= 0) {
        dup2(log, STDOUT_FILENO);
        dup2(log, STDERR_FILENO);
      }
      if (null >= 0) dup2(null, STDIN_FILENO);
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (getppid() != parent) _exit(126);
      execv(argv[0], argv.data());
      static const char msg[] = "exec failed\n";
      (void)!write(STDERR_FILENO, msg, sizeof msg - 1);
      _exit(127);
    }
    pid_ = pid;
    return true;
  }

  // True while the child has not exited (reaps it when it has).
  bool alive() {
    if (pid_ <= 0) return false;
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return false;
    }
    return true;
  }

  void signal(int sig) const {
    if (pid_ > 0) ::kill(pid_, sig);
  }

  // Waits for exit, SIGKILL after the timeout.
  void wait(std::chrono::milliseconds timeout) {
    if (pid_ <= 0) return;
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    int status = 0;
    while (waitpid(pid_, &status, WNOHANG) != pid_) {
      if (std::chrono::steady_clock::now() >= deadline) {
        ADD_FAILURE() << program_ << " did not exit in time; killing it";
        ::kill(pid_, SIGKILL);
        waitpid(pid_, &status, 0);
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    pid_ = -1;
  }

  void stop() {
    signal(SIGTERM);
    wait(std::chrono::seconds(15));
  }

  void kill() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = -1;
  }

  [[nodiscard]] const std::string& program() const { return program_; }

 private:
  std::string program_;
  std::vector<std::string> args_;
  std::string log_path_;
  pid_t pid_ = -1;
};

}  // namespace detail

namespace {

using detail::ChildProcess;
namespace dom = simdjson::dom;

// $env when set, else the first `name` on PATH, else /usr/bin/name.
std::string find_binary(const char* env, const std::string& name) {
  if (const char* v = std::getenv(env); v && *v) return v;
  if (const char* path = std::getenv("PATH")) {
    std::stringstream ss(path);
    std::string dir;
    while (std::getline(ss, dir, ':')) {
      if (dir.empty()) continue;
      const std::string candidate = dir + "/" + name;
      if (access(candidate.c_str(), X_OK) == 0) return candidate;
    }
  }
  return "/usr/bin/" + name;
}

std::string tail_of(const std::string& path, std::size_t lines) {
  std::ifstream in(path);
  if (!in) return "(no log at " + path + ")";
  std::deque<std::string> last;
  std::string line;
  while (std::getline(in, line)) {
    last.push_back(line);
    if (last.size() > lines) last.pop_front();
  }
  std::string out;
  for (const auto& l : last) out += l + "\n";
  return out;
}

void write_file(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::trunc);
  out << text;
  if (!out) ADD_FAILURE() << "cannot write " << path;
}

// Removes a service's temp dir unless the current test failed (kept for post-mortems).
void cleanup_dir(const std::string& dir) {
  if (dir.empty()) return;
  if (::testing::Test::HasFailure()) {
    std::fprintf(stderr, "[services] keeping %s for inspection\n", dir.c_str());
    return;
  }
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
}

// Polls GET url until 200 while the child lives; fails the test with the log tail otherwise.
bool wait_ready(ChildProcess& child, const std::string& url, const std::string& log_path,
                std::chrono::seconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (!child.alive()) {
      ADD_FAILURE() << child.program() << " exited during startup; log tail:\n"
                    << tail_of(log_path, 40);
      return false;
    }
    http::ClientRequest req;
    req.method = "GET";
    req.url = url;
    req.timeout = 1000;
    auto resp = http::request(req);
    if (resp.ok() && resp->status == 200) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ADD_FAILURE() << child.program() << " not ready at " << url << " within " << timeout.count()
                << " s; log tail:\n"
                << tail_of(log_path, 40);
  return false;
}

std::string str_field(dom::element el, const char* key) {
  std::string_view sv;
  if (el[key].get_string().get(sv) != simdjson::SUCCESS) return {};
  return std::string(sv);
}

std::map<std::string, std::string> string_map(dom::element el, const char* key) {
  std::map<std::string, std::string> out;
  dom::object obj;
  if (el[key].get_object().get(obj) != simdjson::SUCCESS) return out;
  for (auto field : obj) {
    std::string_view sv;
    if (field.value.get_string().get(sv) == simdjson::SUCCESS)
      out[std::string(field.key)] = std::string(sv);
  }
  return out;
}

AmAlert parse_alert(dom::element el, bool from_api) {
  AmAlert a;
  a.labels = string_map(el, "labels");
  a.annotations = string_map(el, "annotations");
  if (from_api) {
    dom::element status;
    if (el["status"].get(status) == simdjson::SUCCESS) a.state = str_field(status, "state");
  } else {
    a.state = str_field(el, "status");
  }
  a.starts_at = str_field(el, "startsAt");
  a.ends_at = str_field(el, "endsAt");
  a.generator_url = str_field(el, "generatorURL");
  a.fingerprint = str_field(el, "fingerprint");
  return a;
}

}  // namespace

int free_port() {
  // The kernel may hand the same free port to two calls in a row when nothing has bound it in
  // between (a daemon started with the first one is still starting): never give a port twice.
  static std::mutex mu;
  static std::set<int> given;
  std::lock_guard<std::mutex> lock(mu);
  for (int attempt = 0; attempt < 100; ++attempt) {
    const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
      ADD_FAILURE() << "socket() failed";
      return 0;
    }
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    socklen_t len = sizeof addr;
    int port = 0;
    if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
        getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0)
      port = ntohs(addr.sin_port);
    close(fd);
    if (port == 0) {
      ADD_FAILURE() << "cannot bind 127.0.0.1:0";
      return 0;
    }
    if (given.insert(port).second) return port;
  }
  ADD_FAILURE() << "no port that was not handed out before";
  return 0;
}

// ---- HTTP helpers ----

std::string url_encode(const std::string& s) {
  static const char hex[] = "0123456789ABCDEF";
  std::string out;
  for (const unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

std::pair<int, std::string> http_call(
    const std::string& method, const std::string& url, const std::string& body,
    const std::vector<std::pair<std::string, std::string>>& headers) {
  http::ClientRequest req;
  req.method = method;
  req.url = url;
  req.body = body;
  for (const auto& [name, value] : headers) {
    std::string lower = name;
    for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (lower == "content-type")
      req.content_type = value;
    else
      req.headers.emplace_back(name, value);
  }
  auto resp = http::request(req);
  if (!resp.ok()) return {0, resp.error().to_string()};
  return {resp->status, std::move(resp->body)};
}

std::string http_get(const std::string& url) {
  auto [status, body] = http_call("GET", url);
  if (status != 200) {
    ADD_FAILURE() << "GET " << url << " -> " << status << ": " << body;
    return "";
  }
  return body;
}

// ---- HttpReceiver ----

HttpReceiver::HttpReceiver() {
  http::Handler handler = [this](const http::Request& r) {
    ReceivedRequest rec;
    rec.method = r.method;
    rec.target = r.target;
    rec.path = r.path;
    rec.query = r.query;
    rec.headers = r.headers;
    rec.body = r.body;
    rec.at = std::chrono::steady_clock::now();
    {
      std::lock_guard lock(mu_);
      if (fail_remaining_ > 0) {
        --fail_remaining_;
        rec.status = fail_status_;
      }
      requests_.push_back(rec);
    }
    cv_.notify_all();
    if (rec.status != 200) return http::Response::error(rec.status, "injected failure");
    return http::Response::json(200, "{}");
  };
  // The router matches whole segments: one pattern per depth catches every path.
  http::Router router;
  for (const char* method : {"GET", "POST", "PUT", "PATCH", "DELETE"}) {
    std::string pattern;
    router.add(method, "/", handler);
    for (int depth = 1; depth <= 8; ++depth) {
      pattern += "/{s" + std::to_string(depth) + "}";
      router.add(method, pattern, handler);
    }
  }
  http::ServerOptions options;
  options.listen = "127.0.0.1:0";
  options.max_body_bytes = 64u << 20;
  auto server = http::Server::start(options, std::move(router));
  if (!server.ok()) {
    ADD_FAILURE() << "HttpReceiver: " << server.error().to_string();
    return;
  }
  server_ = std::move(*server);
  port_ = server_->port();
}

HttpReceiver::~HttpReceiver() { stop(); }

void HttpReceiver::stop() {
  if (server_) server_->stop();
}

std::string HttpReceiver::url() const { return "http://127.0.0.1:" + std::to_string(port_); }

std::vector<ReceivedRequest> HttpReceiver::requests() const {
  std::lock_guard lock(mu_);
  return requests_;
}

std::size_t HttpReceiver::count() const {
  std::lock_guard lock(mu_);
  return requests_.size();
}

void HttpReceiver::clear() {
  std::lock_guard lock(mu_);
  requests_.clear();
}

bool HttpReceiver::wait_for(const std::function<bool(const std::vector<ReceivedRequest>&)>& pred,
                            std::chrono::milliseconds timeout) const {
  std::unique_lock lock(mu_);
  return cv_.wait_for(lock, scaled(timeout), [&] { return pred(requests_); });
}

void HttpReceiver::fail_next(int n, int status) {
  std::lock_guard lock(mu_);
  fail_remaining_ = n;
  fail_status_ = status;
}

// ---- Alertmanager ----

std::vector<AmNotification> notifications(const std::vector<ReceivedRequest>& requests) {
  std::vector<AmNotification> out;
  dom::parser parser;
  for (const auto& r : requests) {
    if (r.method != "POST") continue;
    dom::element root;
    if (parser.parse(r.body).get(root) != simdjson::SUCCESS) continue;
    dom::array alerts;
    if (root["alerts"].get_array().get(alerts) != simdjson::SUCCESS) continue;
    AmNotification n;
    n.status = str_field(root, "status");
    n.receiver = str_field(root, "receiver");
    n.group_key = str_field(root, "groupKey");
    n.group_labels = string_map(root, "groupLabels");
    n.common_labels = string_map(root, "commonLabels");
    for (dom::element a : alerts) n.alerts.push_back(parse_alert(a, false));
    out.push_back(std::move(n));
  }
  return out;
}

std::vector<AmNotification> notifications(const HttpReceiver& receiver) {
  return notifications(receiver.requests());
}

Alertmanager::Alertmanager(std::string webhook_url)
    : dir_(temp_dir("kamwatch-am")), port_(free_port()) {
  write_file(dir_ + "/alertmanager.yml",
             "route:\n"
             "  receiver: test-webhook\n"
             "  group_by: ['...']\n"
             "  group_wait: 1s\n"
             "  group_interval: 1s\n"
             "  repeat_interval: 1h\n"
             "receivers:\n"
             "  - name: test-webhook\n"
             "    webhook_configs:\n"
             "      - url: '" +
                 webhook_url +
                 "'\n"
                 "        send_resolved: true\n");
  std::filesystem::create_directories(dir_ + "/data");
  process_ = std::make_unique<ChildProcess>(
      find_binary("KAMWATCH_TEST_ALERTMANAGER", "prometheus-alertmanager"),
      std::vector<std::string>{
          "--config.file=" + dir_ + "/alertmanager.yml",
          "--storage.path=" + dir_ + "/data",
          "--web.listen-address=127.0.0.1:" + std::to_string(port_),
          "--cluster.listen-address=",
          "--log.level=warn",
      },
      dir_ + "/alertmanager.log");
}

Alertmanager::~Alertmanager() {
  process_->kill();
  cleanup_dir(dir_);
}

bool Alertmanager::start() {
  if (!process_->start()) return false;
  return wait_ready(*process_, url() + "/-/ready", dir_ + "/alertmanager.log",
                    std::chrono::seconds(30));
}

void Alertmanager::stop() { process_->stop(); }
void Alertmanager::kill() { process_->kill(); }
bool Alertmanager::restart() {
  stop();
  return start();
}
bool Alertmanager::running() const { return process_->alive(); }

std::string Alertmanager::url() const { return "http://127.0.0.1:" + std::to_string(port_); }

std::string Alertmanager::log_tail(std::size_t lines) const {
  return tail_of(dir_ + "/alertmanager.log", lines);
}

std::vector<AmAlert> Alertmanager::alerts() const {
  std::vector<AmAlert> out;
  const std::string body = http_get(url() + "/api/v2/alerts");
  if (body.empty()) return out;
  dom::parser parser;
  dom::array arr;
  if (parser.parse(body).get_array().get(arr) != simdjson::SUCCESS) {
    ADD_FAILURE() << "Alertmanager /api/v2/alerts: not a JSON array: " << body;
    return out;
  }
  for (dom::element a : arr) out.push_back(parse_alert(a, true));
  return out;
}

// ---- Prometheus ----

Prometheus::Prometheus(std::string target) : dir_(temp_dir("kamwatch-prom")), port_(free_port()) {
  write_file(dir_ + "/prometheus.yml",
             "global:\n"
             "  scrape_interval: 1s\n"
             "  evaluation_interval: 1s\n"
             "scrape_configs:\n"
             "  - job_name: kamwatch\n"
             "    scrape_timeout: 1s\n"
             "    static_configs:\n"
             "      - targets: ['" +
                 target + "']\n");
  std::filesystem::create_directories(dir_ + "/data");
  process_ =
      std::make_unique<ChildProcess>(find_binary("KAMWATCH_TEST_PROMETHEUS", "prometheus"),
                                     std::vector<std::string>{
                                         "--config.file=" + dir_ + "/prometheus.yml",
                                         "--storage.tsdb.path=" + dir_ + "/data",
                                         "--web.listen-address=127.0.0.1:" + std::to_string(port_),
                                         "--log.level=warn",
                                     },
                                     dir_ + "/prometheus.log");
}

Prometheus::~Prometheus() {
  process_->kill();
  cleanup_dir(dir_);
}

bool Prometheus::start() {
  if (!process_->start()) return false;
  return wait_ready(*process_, url() + "/-/ready", dir_ + "/prometheus.log",
                    std::chrono::seconds(30));
}

void Prometheus::stop() { process_->stop(); }
bool Prometheus::running() const { return process_->alive(); }

std::string Prometheus::url() const { return "http://127.0.0.1:" + std::to_string(port_); }

std::string Prometheus::log_tail(std::size_t lines) const {
  return tail_of(dir_ + "/prometheus.log", lines);
}

std::vector<PromSample> Prometheus::query(const std::string& expr) const {
  std::vector<PromSample> out;
  const std::string body = http_get(url() + "/api/v1/query?query=" + url_encode(expr));
  if (body.empty()) return out;
  dom::parser parser;
  dom::element root;
  dom::element data;
  if (parser.parse(body).get(root) != simdjson::SUCCESS || str_field(root, "status") != "success" ||
      root["data"].get(data) != simdjson::SUCCESS) {
    ADD_FAILURE() << "Prometheus query " << expr << ": " << body;
    return out;
  }
  // A value is [<unix time>, "<number>"].
  auto value_of = [](dom::element pair, double& v) {
    std::string_view sv;
    if (pair.at(1).get_string().get(sv) != simdjson::SUCCESS) return false;
    v = std::strtod(std::string(sv).c_str(), nullptr);
    return true;
  };
  const std::string type = str_field(data, "resultType");
  dom::element result;
  if (data["result"].get(result) != simdjson::SUCCESS) return out;
  if (type == "scalar") {
    PromSample s;
    if (value_of(result, s.value)) out.push_back(std::move(s));
  } else if (type == "vector") {
    dom::array arr;
    if (result.get_array().get(arr) != simdjson::SUCCESS) return out;
    for (dom::element e : arr) {
      PromSample s;
      s.labels = string_map(e, "metric");
      dom::element value;
      if (e["value"].get(value) == simdjson::SUCCESS && value_of(value, s.value))
        out.push_back(std::move(s));
    }
  } else {
    ADD_FAILURE() << "Prometheus query " << expr << ": unsupported result type " << type;
  }
  return out;
}

std::string Prometheus::target_health(const std::string& job) const {
  const std::string body = http_get(url() + "/api/v1/targets?state=active");
  if (body.empty()) return "unknown";
  dom::parser parser;
  dom::array targets;
  if (parser.parse(body)["data"]["activeTargets"].get_array().get(targets) != simdjson::SUCCESS) {
    ADD_FAILURE() << "Prometheus /api/v1/targets: " << body;
    return "unknown";
  }
  for (dom::element t : targets) {
    const auto labels = string_map(t, "labels");
    const auto it = labels.find("job");
    if (str_field(t, "scrapePool") == job || (it != labels.end() && it->second == job)) {
      std::string health = str_field(t, "health");
      return health.empty() ? "unknown" : health;
    }
  }
  return "unknown";
}

}  // namespace kamwatch::testing
