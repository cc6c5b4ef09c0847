#include "fault_harness.h"

#include <gtest/gtest.h>
#include <librdkafka/rdkafka.h>
#include <signal.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "kamwatch_process.h"
#include "services.h"

namespace kamwatch::testing::fault {

bool full_run() { return env_int("KAMWATCH_FAULT_FULL", 0) != 0; }

long env_int(const char* name, long def) {
  const char* v = std::getenv(name);
  return v && *v ? std::atol(v) : def;
}

void record(const Row& r) {
  std::printf(
      "[ fault    ] %s: events %lld, instances %d, faults %lld, lost %lld, double %lld%s%s\n",
      r.scenario.c_str(), static_cast<long long>(r.events), r.instances,
      static_cast<long long>(r.faults), static_cast<long long>(r.lost),
      static_cast<long long>(r.doubled), r.note.empty() ? "" : "; ", r.note.c_str());
  std::fflush(stdout);
  const char* path = std::getenv("KAMWATCH_FAULT_RESULTS");
  if (!path || !*path) return;
  std::ofstream f(path, std::ios::app);
  f << r.scenario << '\t' << r.events << '\t' << r.instances << '\t' << r.faults << '\t' << r.lost
    << '\t' << r.doubled << '\t' << r.note << '\n';
}

namespace {

rd_kafka_t* admin_client() {
  char err[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  rd_kafka_conf_set(conf, "bootstrap.servers", broker().c_str(), err, sizeof err);
  return rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
}

std::string run_capture(const std::string& cmd, int* status = nullptr) {
  std::string out;
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return out;
  std::array<char, 512> buf{};
  while (fgets(buf.data(), buf.size(), p)) out += buf.data();
  const int rc = pclose(p);
  if (status) *status = rc;
  while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
  return out;
}

}  // namespace

void create_topic(const std::string& topic, int partitions,
                  const std::map<std::string, std::string>& configs) {
  char err[512];
  rd_kafka_t* rk = admin_client();
  ASSERT_NE(rk, nullptr);
  rd_kafka_NewTopic_t* nt = rd_kafka_NewTopic_new(topic.c_str(), partitions, 1, err, sizeof err);
  for (const auto& [k, v] : configs) rd_kafka_NewTopic_set_config(nt, k.c_str(), v.c_str());
  rd_kafka_queue_t* q = rd_kafka_queue_new(rk);
  rd_kafka_CreateTopics(rk, &nt, 1, nullptr, q);
  rd_kafka_event_t* ev = rd_kafka_queue_poll(q, 30000);
  ASSERT_NE(ev, nullptr) << "CreateTopics timed out";
  size_t n = 0;
  const rd_kafka_topic_result_t** results =
      rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(ev), &n);
  for (size_t i = 0; i < n; ++i)
    EXPECT_EQ(rd_kafka_topic_result_error(results[i]), RD_KAFKA_RESP_ERR_NO_ERROR)
        << rd_kafka_topic_result_error_string(results[i]);
  rd_kafka_event_destroy(ev);
  rd_kafka_NewTopic_destroy(nt);
  rd_kafka_queue_destroy(q);
  rd_kafka_destroy(rk);
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
}

bool delete_topic(const std::string& topic) {
  rd_kafka_t* rk = admin_client();
  if (!rk) return false;
  rd_kafka_DeleteTopic_t* dt = rd_kafka_DeleteTopic_new(topic.c_str());
  rd_kafka_queue_t* q = rd_kafka_queue_new(rk);
  rd_kafka_DeleteTopics(rk, &dt, 1, nullptr, q);
  rd_kafka_event_t* ev = rd_kafka_queue_poll(q, 30000);
  bool ok = ev != nullptr;
  if (ev) {
    size_t n = 0;
    const rd_kafka_topic_result_t** results =
        rd_kafka_DeleteTopics_result_topics(rd_kafka_event_DeleteTopics_result(ev), &n);
    for (size_t i = 0; i < n; ++i)
      if (rd_kafka_topic_result_error(results[i]) != RD_KAFKA_RESP_ERR_NO_ERROR) {
        ADD_FAILURE() << "DeleteTopics " << topic << ": "
                      << rd_kafka_topic_result_error_string(results[i]);
        ok = false;
      }
    rd_kafka_event_destroy(ev);
  }
  rd_kafka_DeleteTopic_destroy(dt);
  rd_kafka_queue_destroy(q);
  rd_kafka_destroy(rk);
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  return ok;
}

void produce_big(const std::string& topic, const std::vector<Message>& messages) {
  char err[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  rd_kafka_conf_set(conf, "bootstrap.servers", broker().c_str(), err, sizeof err);
  rd_kafka_conf_set(conf, "message.max.bytes", "8000000", err, sizeof err);
  rd_kafka_conf_set(conf, "enable.idempotence", "true", err, sizeof err);
  static std::atomic<int> failed{0};
  failed = 0;
  rd_kafka_conf_set_dr_msg_cb(conf, [](rd_kafka_t*, const rd_kafka_message_t* m, void*) {
    if (m->err) failed.fetch_add(1);
  });
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
  ASSERT_NE(rk, nullptr) << err;
  for (const Message& m : messages) {
    const auto e =
        rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic.c_str()),
                          RD_KAFKA_V_KEY(const_cast<char*>(m.key.data()), m.key.size()),
                          RD_KAFKA_V_VALUE(const_cast<char*>(m.value.data()), m.value.size()),
                          RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
    ASSERT_EQ(e, RD_KAFKA_RESP_ERR_NO_ERROR) << rd_kafka_err2str(e);
  }
  ASSERT_EQ(rd_kafka_flush(rk, 60000), RD_KAFKA_RESP_ERR_NO_ERROR);
  rd_kafka_destroy(rk);
  ASSERT_EQ(failed.load(), 0) << "messages not acknowledged";
}

bool broker_is_managed() {
  int status = 0;
  const std::string bootstrap =
      run_capture(std::string(KAMWATCH_SOURCE_DIR) + "/scripts/kafka.sh bootstrap", &status);
  return status == 0 && bootstrap == broker();
}

bool kafka_script(const std::string& command) {
  int status = 0;
  const std::string out = run_capture("KAMWATCH_KAFKA_FRESH=0 " + std::string(KAMWATCH_SOURCE_DIR) +
                                          "/scripts/kafka.sh " + command + " 2>&1",
                                      &status);
  if (status != 0) ADD_FAILURE() << "scripts/kafka.sh " << command << " failed:\n" << out;
  return status == 0;
}

std::pair<int, std::string> get(const std::string& url) { return http_call("GET", url); }

std::optional<double> sample(const std::string& text, const std::string& name) {
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);)
    if (line.rfind(name + " ", 0) == 0) return std::stod(line.substr(name.size() + 1));
  return std::nullopt;
}

// ---- Group ----

struct Group::Instance {
  std::string config;
  int port = 0;
  std::unique_ptr<Daemon> daemon;
};

Group::Group(Options options) : options_(std::move(options)) {
  dir_ = temp_dir("kw-" + options_.name);
  topic_ = unique_name("kw-" + options_.name);
  dlq_ = topic_ + ".dlq";
  alerts_ = topic_ + ".alerts";
  group_ = topic_ + ".group";
  if (options_.create_topics) {
    testing::create_topic(topic_, options_.partitions);
    testing::create_topic(dlq_, 1);
    testing::create_topic(alerts_, 1);
  }
}

Group::~Group() {
  for (auto& [i, inst] : instances_)
    if (inst->daemon && inst->daemon->running()) {
      inst->daemon->signal(SIGCONT);
      inst->daemon->signal(SIGKILL);
      inst->daemon->wait(std::chrono::seconds(30));
    }
  if (!::testing::Test::HasFailure()) std::filesystem::remove_all(dir_);
}

std::string Group::data_dir(int i) const { return dir_ + "/" + std::to_string(i) + "/data"; }
std::string Group::log_path(int i) const {
  return dir_ + "/" + std::to_string(i) + "/kamwatch.log";
}
std::string Group::url(int i) const {
  auto it = instances_.find(i);
  return "http://127.0.0.1:" + std::to_string(it == instances_.end() ? 0 : it->second->port);
}

Group::Instance& Group::instance(int i) {
  auto& inst = instances_[i];
  if (!inst) {
    inst = std::make_unique<Instance>();
    const std::string idir = dir_ + "/" + std::to_string(i);
    std::filesystem::create_directories(idir);
    inst->port = free_port();
    inst->config = idir + "/kamwatch.yaml";
    std::ofstream f(inst->config);
    f << "kafka:\n  brokers: " << broker() << "\n  topics: [" << topic_ << "]\n  group: " << group_
      << "\n  dead_letter_topic: " << dlq_ << "\n  alerts_topic: " << alerts_
      << "\n  batch_max_events: " << options_.batch_max_events << "\n  batch_max_wait: 50ms\n"
      << options_.kafka_yaml << "  properties:\n";
    if (options_.static_membership)
      f << "    group.instance.id: " << options_.name << "-" << i << "\n";
    f << "    session.timeout.ms: \"6000\"\n"
      << options_.kafka_properties << "state:\n  data_dir: " << data_dir(i) << "\n"
      << "http:\n  listen: 127.0.0.1:" << inst->port << "\n"
      << options_.extra_yaml;
  }
  return *inst;
}

void Group::start(int i, const std::vector<std::pair<std::string, std::string>>& env) {
  Instance& inst = instance(i);
  ASSERT_FALSE(inst.daemon && inst.daemon->running()) << "instance " << i << " runs already";
  inst.daemon =
      std::make_unique<Daemon>(std::vector<std::string>{"run", "--config", inst.config, "--http",
                                                        "127.0.0.1:" + std::to_string(inst.port)},
                               log_path(i), env);
  inst.daemon->start();
  ++starts_;
  int running_now = 0;
  for (const auto& [j, other] : instances_)
    running_now += other->daemon && other->daemon->running();
  max_running_ = std::max(max_running_, running_now);
}

void Group::stop(int i) {
  Instance& inst = instance(i);
  if (!inst.daemon || !inst.daemon->running()) return;
  inst.daemon->signal(SIGCONT);
  inst.daemon->signal(SIGTERM);
  EXPECT_EQ(inst.daemon->wait(std::chrono::seconds(90)), 0) << log_tail(i);
}

void Group::kill(int i) {
  Instance& inst = instance(i);
  if (!inst.daemon || !inst.daemon->running()) return;
  inst.daemon->signal(SIGKILL);
  EXPECT_EQ(inst.daemon->wait(std::chrono::seconds(30)), 128 + SIGKILL)
      << "instance " << i << " had exited before the kill:\n"
      << log_tail(i);
}

void Group::pause(int i) {
  Instance& inst = instance(i);
  if (inst.daemon) inst.daemon->signal(SIGSTOP);
}

void Group::resume(int i) {
  Instance& inst = instance(i);
  if (inst.daemon) inst.daemon->signal(SIGCONT);
}

bool Group::running(int i) const {
  auto it = instances_.find(i);
  return it != instances_.end() && it->second->daemon && it->second->daemon->running();
}

std::optional<int> Group::exited(int i) {
  Instance& inst = instance(i);
  return inst.daemon ? inst.daemon->try_wait() : std::nullopt;
}

std::int64_t Group::progress(int i) const {
  std::int64_t sum = 0;
  for (const auto& [p, o] : stored_offsets(data_dir(i), topic_)) sum += o;
  return sum;
}

bool Group::wait_caught_up(int i, std::chrono::seconds timeout) const {
  return testing::wait_caught_up(data_dir(i), topic_, high_watermarks(topic_, options_.partitions),
                                 timeout);
}

bool Group::wait_ready(int i, std::chrono::seconds timeout) const {
  return eventually([&] { return get(url(i) + "/readyz").first == 200; }, timeout);
}

std::string Group::log_tail(int i, std::size_t lines) const {
  std::ifstream f(log_path(i));
  std::vector<std::string> all;
  for (std::string l; std::getline(f, l);) all.push_back(l);
  std::string out;
  for (std::size_t k = all.size() > lines ? all.size() - lines : 0; k < all.size(); ++k)
    out += all[k] + "\n";
  return out;
}

OracleTally Group::tally(const Oracle& oracle, const std::vector<int>& instances) const {
  std::vector<std::string> dirs;
  for (int i : instances) dirs.push_back(data_dir(i));
  if (instances.size() <= 1) return tally_with_oracle(dirs, oracle);
  // Which partition each account's events went to (the message key is the account).
  const auto marks = high_watermarks(topic_, options_.partitions);
  std::size_t total = 0;
  for (auto m : marks) total += static_cast<std::size_t>(m);
  std::map<std::string, std::int32_t> partition_of;
  for (const Consumed& c : consume(topic_, options_.partitions, total, std::chrono::seconds(120)))
    partition_of[c.key] = c.partition;
  // The owner of a partition: the instance whose state is furthest in it.
  std::map<std::int32_t, std::size_t> owner_of;
  std::map<std::int32_t, std::int64_t> furthest;
  for (std::size_t k = 0; k < dirs.size(); ++k)
    for (const auto& [p, o] : stored_offsets(dirs[k], topic_))
      if (!furthest.count(p) || o > furthest[p]) {
        furthest[p] = o;
        owner_of[p] = k;
      }
  return tally_with_oracle(dirs, oracle, [&](const std::string& account) -> std::size_t {
    auto p = partition_of.find(account);
    if (p == partition_of.end()) return 0;
    auto o = owner_of.find(p->second);
    return o == owner_of.end() ? 0 : o->second;
  });
}

std::multimap<std::string, std::string> dead_letters(const std::string& topic) {
  const auto end = high_watermarks(topic, 1);
  std::multimap<std::string, std::string> out;
  for (const Consumed& c :
       consume(topic, 1, static_cast<std::size_t>(end[0]), std::chrono::seconds(60))) {
    auto r = c.headers.find("kamwatch.error.reason");
    out.emplace(c.value, r == c.headers.end() ? "" : r->second);
  }
  return out;
}

}  // namespace kamwatch::testing::fault
