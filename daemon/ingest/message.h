#pragma once
// A raw input message as read from Kafka or a file, before decoding. Views point into storage
// owned by the batch that produced the message; they stay valid until that batch is dropped.
#include <cstdint>
#include <span>
#include <string_view>

#include "core/time.h"

namespace kamwatch::ingest {

struct Header {
  std::string_view key;
  std::string_view value;
};

struct RawMessage {
  std::string_view topic;
  std::int32_t partition = -1;
  std::int64_t offset = -1;
  std::string_view key;
  std::string_view value;
  std::span<const Header> headers;
  TimeMs timestamp = 0;  // broker/producer timestamp; 0 when unknown
};

}  // namespace kamwatch::ingest

#include <deque>
#include <utility>
#include <vector>

namespace kamwatch::ingest {

// The messages of one poll, and the storage their views point into.
// Lifecycle: filled by EventSource::poll, read by the pipeline, then cleared.
class MessageBatch {
 public:
  MessageBatch() = default;
  MessageBatch(const MessageBatch&) = delete;
  MessageBatch& operator=(const MessageBatch&) = delete;
  ~MessageBatch() { clear(); }

  std::vector<RawMessage> messages;

  // Keeps an object alive until clear(); release is called then.
  void hold(void* object, void (*release)(void*)) { held_.push_back({object, release}); }
  // Stable storage for a message's headers.
  std::vector<Header>& new_headers() { return headers_.emplace_back(); }
  void clear() {
    messages.clear();
    headers_.clear();
    for (auto& [object, release] : held_) release(object);
    held_.clear();
  }

 private:
  std::vector<std::pair<void*, void (*)(void*)>> held_;
  std::deque<std::vector<Header>> headers_;
};

}  // namespace kamwatch::ingest
