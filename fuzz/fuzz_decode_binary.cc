// libFuzzer target: Kafka binary mode (ce_* headers, JSON data in the value) and the protobuf
// format (content-type application/cloudevents+protobuf). The input is split deterministically:
//   byte 0, mode = b % 4:
//     0: protobuf: the rest of the input is the message value (io.cloudevents.v1.CloudEvent);
//     1: binary mode, content-type "application/json";
//     2: binary mode, no content-type header;
//     3: binary mode, the content-type header value comes from the input (first header slot).
//   binary modes: byte 1 = header count (% 9), then per header: a key byte (index into kKeys;
//   an index past it makes the key "ce_" + the value's first half), a length byte, that many
//   value bytes (cut at the end of the input). Whatever follows is the message value.
//   A "ce_specversion: 1.0" header always comes first (later headers may override it).
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "ingest/decoder.h"
#include "ingest/message.h"
#include "model/event.h"

namespace {

constexpr std::string_view kKeys[] = {
    "ce_specversion", "ce_id",        "ce_source", "ce_type",        "ce_time",
    "ce_subject",     "ce_datacontenttype", "ce_myext",  "content-type", "Content-Type",
    "ce_",            "ce",           "x-other",
};
constexpr std::size_t kNumKeys = sizeof(kKeys) / sizeof(kKeys[0]);

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace kamwatch;
  static ingest::Decoder decoder;
  if (size == 0) return 0;
  std::string_view in(reinterpret_cast<const char*>(data), size);
  const unsigned mode = static_cast<unsigned char>(in[0]) % 4;
  in.remove_prefix(1);

  std::vector<std::string> keys;  // storage for synthesised keys (views point into it)
  keys.reserve(16);
  std::vector<ingest::Header> headers;
  ingest::RawMessage msg;
  msg.topic = "t";
  msg.partition = 0;
  msg.offset = 1;
  msg.key = "ACME-0001";
  if (mode == 0) {
    headers.push_back({"content-type", "application/cloudevents+protobuf"});
  } else {
    headers.push_back({"ce_specversion", "1.0"});
    if (mode == 1) headers.push_back({"content-type", "application/json"});
    std::size_t count = 0;
    if (!in.empty()) {
      count = static_cast<unsigned char>(in[0]) % 9;
      in.remove_prefix(1);
    }
    if (mode == 3) ++count;  // the first slot is the content-type
    for (std::size_t i = 0; i < count && in.size() >= 2; ++i) {
      const std::size_t key_index = static_cast<unsigned char>(in[0]);
      std::size_t len = static_cast<unsigned char>(in[1]);
      in.remove_prefix(2);
      if (len > in.size()) len = in.size();
      const std::string_view value = in.substr(0, len);
      in.remove_prefix(len);
      std::string_view key;
      if (mode == 3 && i == 0) {
        key = "content-type";
      } else if (key_index < kNumKeys) {
        key = kKeys[key_index];
      } else {
        keys.push_back("ce_" + std::string(value.substr(0, value.size() / 2)));
        key = keys.back();
      }
      headers.push_back({key, value});
    }
  }
  msg.value = in;
  msg.headers = headers;
  model::Event event;
  const auto rejection = decoder.decode(msg, event);
  static const bool verbose = std::getenv("KAMWATCH_FUZZ_VERBOSE") != nullptr;
  if (verbose) {
    std::fprintf(stderr, "%s\n", rejection ? (std::string(ingest::reason_code(rejection->reason)) + ": " + rejection->message).c_str()
                                            : ("accepted " + event.type).c_str());
  }
  if (rejection) {
    if (ingest::reason_code(rejection->reason).empty() || rejection->message.empty()) __builtin_trap();
  } else if (event.id.empty() || event.source.empty() || event.type.empty() ||
             event.subject.empty()) {
    __builtin_trap();
  }
  return 0;
}
