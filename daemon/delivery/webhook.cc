#include "delivery/webhook.h"

#include "core/clock.h"
#include "core/log.h"
#include "http/client.h"

namespace kamwatch::delivery {

std::string webhook_signature(std::string_view secret, std::string_view timestamp,
                              std::string_view body) {
  std::string signed_text(timestamp);
  signed_text.push_back('.');
  signed_text.append(body);
  return "sha256=" + http::hmac_sha256_hex(secret, signed_text);
}

std::vector<bool> WebhookSink::deliver(const std::vector<state::OutboxRecord>& records) {
  std::vector<bool> done(records.size(), false);
  for (std::size_t i = 0; i < records.size(); ++i) {
    const state::OutboxRecord& r = records[i];
    http::ClientRequest req;
    req.method = "POST";
    req.url = options_.url;
    req.body = r.value;
    req.timeout = options_.timeout;
    const std::string ts = std::to_string(SystemClock().now() / 1000);
    req.headers.emplace_back("X-Kamwatch-Timestamp", ts);
    if (!options_.secret.empty())
      req.headers.emplace_back("X-Kamwatch-Signature",
                               webhook_signature(options_.secret, ts, r.value));
    std::string fingerprint, status;
    for (const auto& [k, v] : r.headers) {
      if (k == "kamwatch.alert.fingerprint") fingerprint = v;
      if (k == "kamwatch.alert.status") status = v;
    }
    if (!fingerprint.empty()) {
      req.headers.emplace_back("X-Kamwatch-Fingerprint", fingerprint);
      req.headers.emplace_back("Idempotency-Key",
                               fingerprint + ":" + status + ":" + std::to_string(r.seq));
    }
    auto resp = http::request(req);
    if (!resp.ok()) {
      log::warn("webhook unreachable", {{"sink", name_}, {"error", resp.error().message}});
      break;  // keep order: later records wait for this one
    }
    const int s = resp->status;
    if (s >= 200 && s < 300) {
      done[i] = true;
      continue;
    }
    if (s >= 400 && s < 500 && s != 408 && s != 429) {
      log::error("webhook refused a transition; dropped",
                 {{"sink", name_}, {"status", s}, {"response", resp->body.substr(0, 200)}});
      done[i] = true;
      continue;
    }
    log::warn("webhook failed", {{"sink", name_}, {"status", s}});
    break;
  }
  return done;
}

}  // namespace kamwatch::delivery
