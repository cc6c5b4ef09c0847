#pragma once
// Internal to ingest: librdkafka configuration helpers shared by consumer and producer.
#include <librdkafka/rdkafka.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "core/result.h"
#include "ingest/event_source.h"

namespace kamwatch::ingest::detail {

struct ListDeleter {
  void operator()(rd_kafka_topic_partition_list_t* l) const {
    rd_kafka_topic_partition_list_destroy(l);
  }
};
// An owned partition list.
using ListPtr = std::unique_ptr<rd_kafka_topic_partition_list_t, ListDeleter>;

// Builds a conf from defaults, then brokers, then the user's properties (which win).
// On error the conf is destroyed and the message names the property.
[[nodiscard]] Result<rd_kafka_conf_t*> make_conf(const std::string& brokers,
                                                 const std::map<std::string, std::string>& defaults,
                                                 const std::map<std::string, std::string>& user);

// The consumer handle of a Kafka EventSource (nullptr for other sources).
[[nodiscard]] rd_kafka_t* consumer_handle(EventSource& source);

// rd_kafka_query_watermark_offsets, retried while the partition's leader is not known yet
// (a topic created a moment ago, a leader moving) until timeout_ms has passed.
[[nodiscard]] rd_kafka_resp_err_t query_watermarks(rd_kafka_t* rk, const std::string& topic,
                                                   std::int32_t partition, std::int64_t* low,
                                                   std::int64_t* high, int timeout_ms);

// Routes librdkafka's own log lines into kamwatch's JSON log.
void log_cb(const rd_kafka_t* rk, int level, const char* fac, const char* buf);

}  // namespace kamwatch::ingest::detail
