#include "harness.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <librdkafka/rdkafka.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <thread>

#include "state/rocksdb_store.h"

extern char** environ;

namespace kamwatch::testing {
namespace {

std::string run_capture(const std::string& cmd) {
  std::string out;
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return out;
  std::array<char, 512> buf{};
  while (fgets(buf.data(), buf.size(), p)) out += buf.data();
  const int rc = pclose(p);
  if (rc != 0) ADD_FAILURE() << "command failed (" << rc << "): " << cmd << "\n" << out;
  while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
  return out;
}

rd_kafka_conf_t* conf_for(const std::string& brokers) {
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  char err[512];
  rd_kafka_conf_set(conf, "bootstrap.servers", brokers.c_str(), err, sizeof err);
  return conf;
}

}  // namespace

double time_scale() {
  static const double scale = [] {
    if (const char* v = std::getenv("KAMWATCH_TEST_TIME_SCALE"); v && *v) {
      char* end = nullptr;
      const double d = std::strtod(v, &end);
      if (end && *end == '\0' && d >= 1) return d;
      ADD_FAILURE() << "KAMWATCH_TEST_TIME_SCALE must be a number >= 1, not '" << v << "'";
    }
    return static_cast<double>(KAMWATCH_TEST_TIME_SCALE_DEFAULT);
  }();
  return scale;
}

std::chrono::milliseconds scaled(std::chrono::milliseconds timeout) {
  return std::chrono::milliseconds(
      static_cast<std::int64_t>(static_cast<double>(timeout.count()) * time_scale()));
}

std::string broker() {
  static std::string cached = [] {
    if (const char* b = std::getenv("KAMWATCH_TEST_BROKERS"); b && *b) return std::string(b);
    const std::string script = std::string(KAMWATCH_SOURCE_DIR) + "/scripts/kafka.sh";
    run_capture(script + " start >&2");
    return run_capture(script + " bootstrap");
  }();
  return cached;
}

std::string unique_name(const std::string& prefix) {
  return prefix + "-" +
         std::to_string(std::chrono::system_clock::now().time_since_epoch().count() / 1000000) +
         "-" + std::to_string(getpid());
}

std::string temp_dir(const std::string& prefix) {
  std::string tmpl = "/tmp/" + prefix + "-XXXXXX";
  if (!mkdtemp(tmpl.data())) ADD_FAILURE() << "mkdtemp failed";
  return tmpl;
}

void create_topic(const std::string& topic, int partitions) {
  char err[512];
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf_for(broker()), err, sizeof err);
  ASSERT_NE(rk, nullptr) << err;
  rd_kafka_NewTopic_t* nt = rd_kafka_NewTopic_new(topic.c_str(), partitions, 1, err, sizeof err);
  rd_kafka_queue_t* q = rd_kafka_queue_new(rk);
  rd_kafka_CreateTopics(rk, &nt, 1, nullptr, q);
  rd_kafka_event_t* ev = rd_kafka_queue_poll(q, 30000);
  ASSERT_NE(ev, nullptr) << "CreateTopics timed out";
  const rd_kafka_CreateTopics_result_t* res = rd_kafka_event_CreateTopics_result(ev);
  size_t n = 0;
  const rd_kafka_topic_result_t** results = rd_kafka_CreateTopics_result_topics(res, &n);
  for (size_t i = 0; i < n; ++i) {
    const auto e = rd_kafka_topic_result_error(results[i]);
    EXPECT_TRUE(e == RD_KAFKA_RESP_ERR_NO_ERROR || e == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS)
        << rd_kafka_err2str(e);
  }
  rd_kafka_event_destroy(ev);
  rd_kafka_NewTopic_destroy(nt);
  rd_kafka_queue_destroy(q);
  rd_kafka_destroy(rk);
  // Metadata needs a moment to reach every listener.
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
}

void produce(const std::string& topic, const std::vector<Message>& messages) {
  char err[512];
  rd_kafka_conf_t* conf = conf_for(broker());
  rd_kafka_conf_set(conf, "enable.idempotence", "true", err, sizeof err);
  rd_kafka_conf_set(conf, "linger.ms", "20", err, sizeof err);
  rd_kafka_conf_set(conf, "queue.buffering.max.messages", "1000000", err, sizeof err);
  static std::atomic<std::size_t> failed{0};
  failed = 0;
  rd_kafka_conf_set_dr_msg_cb(conf, [](rd_kafka_t*, const rd_kafka_message_t* m, void*) {
    if (m->err) failed.fetch_add(1);
  });
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
  ASSERT_NE(rk, nullptr) << err;
  for (const Message& m : messages) {
    for (;;) {
      rd_kafka_headers_t* hdrs = rd_kafka_headers_new(m.headers.size());
      for (const auto& [k, v] : m.headers)
        rd_kafka_header_add(hdrs, k.data(), static_cast<ssize_t>(k.size()), v.data(),
                            static_cast<ssize_t>(v.size()));
      const auto e = rd_kafka_producev(
          rk, RD_KAFKA_V_TOPIC(topic.c_str()),
          RD_KAFKA_V_KEY(const_cast<char*>(m.key.data()), m.key.size()),
          RD_KAFKA_V_VALUE(const_cast<char*>(m.value.data()), m.value.size()),
          RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_HEADERS(hdrs), RD_KAFKA_V_END);
      if (e == RD_KAFKA_RESP_ERR_NO_ERROR) break;
      rd_kafka_headers_destroy(hdrs);
      ASSERT_EQ(e, RD_KAFKA_RESP_ERR__QUEUE_FULL) << rd_kafka_err2str(e);
      rd_kafka_poll(rk, 50);
    }
    rd_kafka_poll(rk, 0);
  }
  ASSERT_EQ(rd_kafka_flush(rk, 120000), RD_KAFKA_RESP_ERR_NO_ERROR);
  rd_kafka_destroy(rk);
  ASSERT_EQ(failed.load(), 0u) << "messages not acknowledged by the broker";
}

std::vector<std::int64_t> high_watermarks(const std::string& topic, int partitions) {
  char err[512];
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf_for(broker()), err, sizeof err);
  std::vector<std::int64_t> out;
  for (int p = 0; p < partitions; ++p) {
    int64_t lo = 0, hi = 0;
    const auto e = rd_kafka_query_watermark_offsets(rk, topic.c_str(), p, &lo, &hi, 10000);
    EXPECT_EQ(e, RD_KAFKA_RESP_ERR_NO_ERROR) << rd_kafka_err2str(e);
    out.push_back(hi);
  }
  rd_kafka_destroy(rk);
  return out;
}

GroupOffsets::GroupOffsets(const std::string& group) {
  char err[512];
  rd_kafka_conf_t* conf = conf_for(broker());
  rd_kafka_conf_set(conf, "group.id", group.c_str(), err, sizeof err);
  rk_ = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
}

GroupOffsets::~GroupOffsets() { rd_kafka_destroy(rk_); }

std::vector<std::int64_t> GroupOffsets::committed(const std::string& topic, int partitions) {
  rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(partitions);
  for (int p = 0; p < partitions; ++p) rd_kafka_topic_partition_list_add(list, topic.c_str(), p);
  std::vector<std::int64_t> out(static_cast<std::size_t>(partitions), -1);
  if (rd_kafka_committed(rk_, list, 5000) == RD_KAFKA_RESP_ERR_NO_ERROR)
    for (int i = 0; i < list->cnt; ++i)
      if (list->elems[i].err == RD_KAFKA_RESP_ERR_NO_ERROR && list->elems[i].offset >= 0)
        out[static_cast<std::size_t>(list->elems[i].partition)] = list->elems[i].offset;
  rd_kafka_topic_partition_list_destroy(list);
  return out;
}

std::vector<Consumed> consume(const std::string& topic, int partitions, std::size_t count,
                              std::chrono::seconds timeout) {
  char err[512];
  rd_kafka_conf_t* conf = conf_for(broker());
  rd_kafka_conf_set(conf, "group.id", unique_name("harness").c_str(), err, sizeof err);
  rd_kafka_conf_set(conf, "enable.auto.commit", "false", err, sizeof err);
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
  rd_kafka_poll_set_consumer(rk);
  rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(partitions);
  for (int p = 0; p < partitions; ++p)
    rd_kafka_topic_partition_list_add(list, topic.c_str(), p)->offset = RD_KAFKA_OFFSET_BEGINNING;
  rd_kafka_assign(rk, list);
  rd_kafka_topic_partition_list_destroy(list);
  std::vector<Consumed> out;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (out.size() < count && std::chrono::steady_clock::now() < deadline) {
    rd_kafka_message_t* m = rd_kafka_consumer_poll(rk, 200);
    if (!m) continue;
    if (!m->err) {
      Consumed c;
      c.key.assign(static_cast<const char*>(m->key), m->key ? m->key_len : 0);
      c.value.assign(static_cast<const char*>(m->payload), m->payload ? m->len : 0);
      c.partition = m->partition;
      c.offset = m->offset;
      rd_kafka_headers_t* hdrs = nullptr;
      if (rd_kafka_message_headers(m, &hdrs) == RD_KAFKA_RESP_ERR_NO_ERROR) {
        const char* name;
        const void* val;
        size_t size;
        for (size_t i = 0;
             rd_kafka_header_get_all(hdrs, i, &name, &val, &size) == RD_KAFKA_RESP_ERR_NO_ERROR;
             ++i)
          c.headers[name] = std::string(static_cast<const char*>(val), val ? size : 0);
      }
      out.push_back(std::move(c));
    }
    rd_kafka_message_destroy(m);
  }
  rd_kafka_consumer_close(rk);
  rd_kafka_destroy(rk);
  return out;
}

std::string kamwatch_binary() {
  const char* other = std::getenv("KAMWATCH_BINARY_OVERRIDE");  // e.g. a benchmark's baseline
  return other && *other ? other : KAMWATCH_BINARY;
}

Daemon::Daemon(std::vector<std::string> args, std::string log_path,
               std::vector<std::pair<std::string, std::string>> env)
    : args_(std::move(args)), log_path_(std::move(log_path)), env_(std::move(env)) {}

Daemon::~Daemon() {
  if (pid_ > 0) {
    ::kill(pid_, SIGKILL);
    int status;
    waitpid(pid_, &status, 0);
  }
}

void Daemon::start() {
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, STDERR_FILENO, log_path_.c_str(),
                                   O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, log_path_.c_str(),
                                   O_WRONLY | O_CREAT | O_APPEND, 0644);
  std::vector<std::string> full = {kamwatch_binary()};
  full.insert(full.end(), args_.begin(), args_.end());
  // Daemons in tests run side by side: unless a test asks for a port, the API takes a free one.
  if (!args_.empty() && args_[0] == "run" &&
      std::find(args_.begin(), args_.end(), "--http") == args_.end()) {
    full.push_back("--http");
    full.push_back("127.0.0.1:0");
  }
  std::vector<char*> argv;
  for (auto& a : full) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::vector<std::string> env_strings;
  for (char** e = environ; *e; ++e) {
    const std::string entry = *e;
    const bool overridden = std::any_of(env_.begin(), env_.end(), [&](const auto& kv) {
      return entry.rfind(kv.first + "=", 0) == 0;
    });
    if (!overridden) env_strings.push_back(entry);
  }
  for (const auto& [k, v] : env_) env_strings.push_back(k + "=" + v);
  std::vector<char*> envp;
  for (auto& e : env_strings) envp.push_back(e.data());
  envp.push_back(nullptr);
  const int rc = posix_spawn(&pid_, argv[0], &fa, nullptr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&fa);
  ASSERT_EQ(rc, 0) << "cannot start " << argv[0];
}

void Daemon::signal(int sig) {
  if (pid_ > 0) ::kill(pid_, sig);
}

std::optional<int> Daemon::try_wait() {
  if (pid_ <= 0) return std::nullopt;
  int status = 0;
  if (waitpid(pid_, &status, WNOHANG) != pid_) return std::nullopt;
  pid_ = -1;
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

int Daemon::wait(std::chrono::seconds timeout) {
  if (pid_ <= 0) return -1;
  const auto deadline = std::chrono::steady_clock::now() + scaled(timeout);
  int status = 0;
  for (;;) {
    const pid_t r = waitpid(pid_, &status, WNOHANG);
    if (r == pid_) break;
    if (std::chrono::steady_clock::now() >= deadline) {
      ADD_FAILURE() << "kamwatch did not exit in time; killing it";
      ::kill(pid_, SIGKILL);
      waitpid(pid_, &status, 0);
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  pid_ = -1;
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

std::map<std::int32_t, std::int64_t> stored_offsets(const std::string& data_dir,
                                                    const std::string& topic) {
  std::map<std::int32_t, std::int64_t> out;
  if (!std::filesystem::exists(data_dir + "/CURRENT")) return out;
  state::StoreOptions opts;
  opts.path = data_dir;
  opts.read_only = true;
  opts.create_if_missing = false;
  auto store = state::RocksDbStore::open(opts);
  if (!store.ok()) return out;
  auto all = (*store)->all_offsets();
  if (!all.ok()) return out;
  for (const auto& o : *all)
    if (o.topic == topic) out[o.partition] = o.next_offset;
  return out;
}

bool wait_caught_up(const std::string& data_dir, const std::string& topic,
                    const std::vector<std::int64_t>& watermarks, std::chrono::seconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + scaled(timeout);
  while (std::chrono::steady_clock::now() < deadline) {
    const auto stored = stored_offsets(data_dir, topic);
    bool done = true;
    for (std::size_t p = 0; p < watermarks.size(); ++p) {
      if (watermarks[p] == 0) continue;
      auto it = stored.find(static_cast<std::int32_t>(p));
      if (it == stored.end() || it->second < watermarks[p]) done = false;
    }
    if (done) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
  return false;
}

}  // namespace kamwatch::testing
