#include "delivery/alertmanager.h"

#include <cmath>
#include <cstdio>

#include "core/clock.h"
#include "core/json_writer.h"
#include "core/log.h"
#include "http/client.h"

namespace kamwatch::delivery {
namespace {

std::string url_path_escape(std::string_view s) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(hex[c >> 4]);
      out.push_back(hex[c & 15]);
    }
  }
  return out;
}

std::string number_text(double v) {
  if (std::isnan(v)) return "n/a";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.4g", v);
  return buf;
}

}  // namespace

std::string alertmanager_payload(const std::vector<engine::AlertTransition>& alerts, TimeMs now,
                                 const AlertmanagerOptions& options) {
  JsonWriter w;
  w.begin_array();
  for (const engine::AlertTransition& t : alerts) {
    const bool firing = t.status == engine::AlertTransition::Status::kFiring;
    w.begin_object();
    w.key("labels").begin_object();
    for (const auto& [k, v] : t.labels)
      if (!v.empty()) w.field(k, v);  // an empty value means "no such label" to Alertmanager
    w.end_object();
    w.key("annotations").begin_object();
    for (const auto& [k, v] : t.annotations) w.field(k, v);
    if (!t.evidence.empty() && !t.annotations.count("evidence")) {
      std::string ev;
      for (const auto& [k, v] : t.evidence)
        ev += (ev.empty() ? "" : ", ") + k + "=" + number_text(v);
      w.field("evidence", ev);
    }
    if (!t.annotations.count("description")) {
      auto summary = t.annotations.find("summary");
      std::string d = summary != t.annotations.end() ? summary->second : t.alert;
      auto playbook = t.annotations.find("playbook");
      if (playbook != t.annotations.end()) d += " Next step: " + playbook->second;
      w.field("description", d);
    }
    w.end_object();
    w.field("startsAt", format_rfc3339(t.starts_at));
    w.field("endsAt", format_rfc3339(firing ? now + 4 * options.resend_interval : t.at));
    if (!options.external_url.empty())
      w.field("generatorURL",
              options.external_url + "/api/v1/accounts/" + url_path_escape(t.account));
    w.end_object();
  }
  w.end_array();
  return w.take();
}

AlertmanagerSink::AlertmanagerSink(AlertmanagerOptions options, FiringAlerts firing)
    : options_(std::move(options)),
      firing_(std::move(firing)),
      name_("alertmanager:" + options_.url) {
  while (!options_.url.empty() && options_.url.back() == '/') options_.url.pop_back();
}

bool AlertmanagerSink::post(const std::vector<engine::AlertTransition>& alerts, TimeMs now) {
  if (alerts.empty()) return true;
  http::ClientRequest req;
  req.method = "POST";
  req.url = options_.url + "/api/v2/alerts";
  req.body = alertmanager_payload(alerts, now, options_);
  req.timeout = options_.timeout;
  auto resp = http::request(req);
  if (!resp.ok()) {
    log::warn("alertmanager unreachable", {{"url", options_.url}, {"error", resp.error().message}});
    return false;
  }
  if (resp->status >= 200 && resp->status < 300) return true;
  if (resp->status >= 400 && resp->status < 500 && resp->status != 408 && resp->status != 429) {
    // Refused for good (a bad payload): retrying cannot help and would block every later alert.
    log::error("alertmanager refused alerts; dropped",
               {{"url", options_.url}, {"status", resp->status}, {"response", resp->body}});
    return true;
  }
  log::warn("alertmanager failed", {{"url", options_.url}, {"status", resp->status}});
  return false;
}

std::vector<bool> AlertmanagerSink::deliver(const std::vector<state::OutboxRecord>& records) {
  std::vector<engine::AlertTransition> alerts;
  alerts.reserve(records.size());
  for (const auto& r : records) {
    auto t = engine::parse_transition_json(r.value);
    if (!t.ok()) {
      log::error("unreadable alert record in the outbox; dropped",
                 {{"sink", name_},
                  {"seq", static_cast<std::int64_t>(r.seq)},
                  {"error", t.error().message}});
      continue;
    }
    alerts.push_back(std::move(t).value());
  }
  const TimeMs now = SystemClock().now();
  const bool ok = post(alerts, now);
  if (ok) {
    for (const auto& t : alerts)
      if (t.status == engine::AlertTransition::Status::kResolved) resolved_[t.fingerprint] = t.at;
  }
  return std::vector<bool>(records.size(), ok);
}

bool AlertmanagerSink::tick(TimeMs now) {
  // Forget resolutions older than two re-send rounds: every snapshot since then saw them.
  for (auto it = resolved_.begin(); it != resolved_.end();)
    it = now - it->second > 2 * options_.resend_interval ? resolved_.erase(it) : std::next(it);
  if (!firing_) return true;
  // Pages of about 1000 keep each request reasonable, and memory bounded however many fire.
  std::string after;
  do {
    auto page = firing_(after, 1000);
    if (!page.ok()) {
      log::warn("cannot read the firing alerts to re-send",
                {{"url", options_.url}, {"error", page.error().to_string()}});
      return false;
    }
    std::erase_if(page->alerts, [&](const engine::AlertTransition& t) {
      auto r = resolved_.find(t.fingerprint);
      return r != resolved_.end() && r->second >= t.at;
    });
    if (!post(page->alerts, now)) return false;
    after = std::move(page->next);
  } while (!after.empty());
  return true;
}

}  // namespace kamwatch::delivery
