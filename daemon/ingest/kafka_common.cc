#include "ingest/kafka_common.h"

#include <librdkafka/rdkafka_mock.h>

#include <algorithm>
#include <chrono>
#include <thread>

#include "core/log.h"
#include "ingest/kafka.h"

namespace kamwatch::ingest {

std::string loggable_property(const std::string& name, const std::string& value) {
  static constexpr std::string_view kMarkers[] = {
      "password", "secret", "token", "key", "sasl.oauthbearer.config", "credential"};
  for (std::string_view m : kMarkers)
    if (name.find(m) != std::string::npos) return "***";
  return value;
}

namespace detail {

Result<rd_kafka_conf_t*> make_conf(const std::string& brokers,
                                   const std::map<std::string, std::string>& defaults,
                                   const std::map<std::string, std::string>& user) {
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  char err[512];
  auto set = [&](const std::string& k, const std::string& v) -> Result<void> {
    if (rd_kafka_conf_set(conf, k.c_str(), v.c_str(), err, sizeof err) != RD_KAFKA_CONF_OK) {
      return Error{"kafka_config",
                   "kafka property '" + k + "' = '" + loggable_property(k, v) + "': " + err};
    }
    return ok();
  };
  std::map<std::string, std::string> all = defaults;
  all["bootstrap.servers"] = brokers;
  for (const auto& [k, v] : user) all[k] = v;
  for (const auto& [k, v] : all) {
    if (auto r = set(k, v); !r.ok()) {
      rd_kafka_conf_destroy(conf);
      return r.error();
    }
  }
  rd_kafka_conf_set_log_cb(conf, log_cb);
  return conf;
}

void log_cb(const rd_kafka_t* rk, int level, const char* fac, const char* buf) {
  // syslog levels: <= 3 error, 4 warning, else info/debug
  const auto lvl = level <= 3   ? log::Level::kError
                   : level == 4 ? log::Level::kWarn
                   : level <= 6 ? log::Level::kInfo
                                : log::Level::kDebug;
  if (!log::enabled(lvl)) return;
  log::write(
      lvl, buf,
      {{"component", "librdkafka"}, {"facility", fac}, {"client", rk ? rd_kafka_name(rk) : ""}});
}

rd_kafka_resp_err_t query_watermarks(rd_kafka_t* rk, const std::string& topic,
                                     std::int32_t partition, std::int64_t* low, std::int64_t* high,
                                     int timeout_ms) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                          deadline - std::chrono::steady_clock::now())
                          .count();
    const rd_kafka_resp_err_t e = rd_kafka_query_watermark_offsets(
        rk, topic.c_str(), partition, low, high, static_cast<int>(std::max<long long>(left, 1)));
    const bool leader_unknown = e == RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION ||
                                e == RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE ||
                                e == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART ||
                                e == RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION ||
                                e == RD_KAFKA_RESP_ERR__TRANSPORT;
    if (!leader_unknown ||
        std::chrono::steady_clock::now() + std::chrono::milliseconds(100) >= deadline)
      return e;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

}  // namespace detail

namespace {

class EmbeddedClusterImpl final : public EmbeddedCluster {
 public:
  EmbeddedClusterImpl(rd_kafka_t* rk, rd_kafka_mock_cluster_t* mc) : rk_(rk), mc_(mc) {}
  ~EmbeddedClusterImpl() override {
    rd_kafka_mock_cluster_destroy(mc_);
    rd_kafka_destroy(rk_);
  }
  std::string bootstrap_servers() const override { return rd_kafka_mock_cluster_bootstraps(mc_); }
  Result<void> create_topic(const std::string& topic, int partitions) override {
    const rd_kafka_resp_err_t err = rd_kafka_mock_topic_create(mc_, topic.c_str(), partitions, 1);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR && err != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS)
      return Error{"kafka_embedded", "cannot create topic " + topic + ": " + rd_kafka_err2str(err)};
    return ok();
  }

 private:
  rd_kafka_t* rk_;
  rd_kafka_mock_cluster_t* mc_;
};

}  // namespace

Result<std::unique_ptr<EmbeddedCluster>> start_embedded_cluster(int brokers) {
  char err[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  rd_kafka_conf_set_log_cb(conf, detail::log_cb);
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
  if (!rk) return Error{"kafka_embedded", std::string("cannot start embedded cluster: ") + err};
  rd_kafka_mock_cluster_t* mc = rd_kafka_mock_cluster_new(rk, brokers);
  if (!mc) {
    rd_kafka_destroy(rk);
    return Error{"kafka_embedded", "cannot start embedded cluster"};
  }
  return std::unique_ptr<EmbeddedCluster>(new EmbeddedClusterImpl(rk, mc));
}

}  // namespace kamwatch::ingest
