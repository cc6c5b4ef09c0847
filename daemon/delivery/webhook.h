#pragma once
// Alert transitions to a webhook: one POST per transition with the transition's JSON (the
// alerts-topic schema, docs/alerts.md) as the body, signed so receivers can verify it came from
// kamwatch and was not replayed:
//   X-Kamwatch-Timestamp: <Unix seconds>
//   X-Kamwatch-Signature: sha256=<hex HMAC-SHA256(secret, timestamp + "." + body)>
//   X-Kamwatch-Fingerprint: <alert fingerprint>
//   Idempotency-Key: <fingerprint>:<status>:<outbox seq>  (the same on every retry)
// 2xx acknowledges; 5xx, 408, 429 and transport errors are retried (in order); other 4xx are
// permanent refusals, logged and dropped so they do not block later transitions.
// Thread-safety: one forwarder thread per sink.
#include <string>

#include "delivery/sink.h"

namespace kamwatch::delivery {

struct WebhookOptions {
  std::string name;
  std::string url;
  std::string secret;  // empty: unsigned
  TimeMs timeout = 5000;
};

// The signature header value for body at timestamp (seconds).
[[nodiscard]] std::string webhook_signature(std::string_view secret, std::string_view timestamp,
                                            std::string_view body);

class WebhookSink final : public Sink {
 public:
  explicit WebhookSink(WebhookOptions options)
      : options_(std::move(options)), name_("webhook:" + options_.name) {}
  [[nodiscard]] const std::string& name() const override { return name_; }
  [[nodiscard]] std::vector<bool> deliver(const std::vector<state::OutboxRecord>& records) override;

 private:
  WebhookOptions options_;
  std::string name_;
};

}  // namespace kamwatch::delivery
