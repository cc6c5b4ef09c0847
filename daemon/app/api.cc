#include "app/api.h"

#include <algorithm>
#include <charconv>
#include <set>

#include "core/json_writer.h"
#include "report/report.h"

namespace kamwatch::app {
namespace {

using http::Request;
using http::Response;

void write_summary(JsonWriter& w, const AccountSummary& s, std::size_t alerts) {
  w.begin_object()
      .field("id", s.id)
      .field("name", s.name)
      .field("kam", s.kam)
      .field("tier", s.tier)
      .field("key_account", s.key_account)
      .field("band", s.band);
  w.key("score");
  if (std::isnan(s.score))
    w.null();
  else
    w.value(s.score);
  w.field("last_event", s.last_event ? format_rfc3339(s.last_event) : "");
  w.field("events", s.events);
  w.field("alerts", static_cast<std::int64_t>(alerts));
  w.end_object();
}

std::string query(const Request& r, const char* key) {
  auto it = r.query.find(key);
  return it == r.query.end() ? std::string() : it->second;
}

// Query parameters a route does not know are errors: a typo must not silently widen a filter.
std::optional<Response> unknown_parameter(const Request& r,
                                          std::initializer_list<const char*> known) {
  for (const auto& kv : r.query) {
    const std::string& k = kv.first;  // (a named reference: clang 14 cannot capture bindings)
    if (std::none_of(known.begin(), known.end(), [&](const char* n) { return k == n; })) {
      std::string list;
      for (const char* n : known) list += (list.empty() ? "" : ", ") + std::string(n);
      return Response::error(400, "unknown query parameter '" + k + "' (known: " + list + ")");
    }
  }
  return std::nullopt;
}

// Reads the account and hands it to fn; 404 when unknown, 500 when the store fails.
Response with_account(const ApiContext& c, const std::string& id,
                      const std::function<Response(const model::AccountState&)>& fn) {
  auto account = c.store->get_account(id);
  if (!account.ok())
    return Response::error(500, "reading the account failed: " + account.error().message);
  if (!account->has_value()) return Response::error(404, "account '" + id + "' not found");
  return fn(**account);
}

}  // namespace

void RuleStatus::loaded(std::shared_ptr<const rules::RuleSet> rules, std::string dir, TimeMs now) {
  std::lock_guard lock(mu_);
  view_.rules = std::move(rules);
  view_.dir = std::move(dir);
  view_.last_ok = true;
  view_.last_attempt = now;
  view_.last_success = now;
  view_.last_error.clear();
}

void RuleStatus::failed(std::string error, TimeMs now) {
  std::lock_guard lock(mu_);
  view_.last_ok = false;
  view_.last_attempt = now;
  view_.last_error = std::move(error);
}

RuleStatus::View RuleStatus::get() const {
  std::lock_guard lock(mu_);
  return view_;
}

std::optional<ReloadChannel::Outcome> ReloadChannel::request_and_wait(TimeMs timeout) {
  std::unique_lock lock(mu_);
  const std::uint64_t ticket = ++requested_;
  if (!cv_.wait_for(lock, std::chrono::milliseconds(timeout), [&] { return completed_ >= ticket; }))
    return std::nullopt;
  return last_;
}

bool ReloadChannel::pending() const {
  std::lock_guard lock(mu_);
  return requested_ > completed_;
}

void ReloadChannel::complete(Outcome outcome) {
  {
    std::lock_guard lock(mu_);
    completed_ = requested_;
    last_ = std::move(outcome);
  }
  cv_.notify_all();
}

http::Router make_api_router(ApiContext ctx) {
  auto c = std::make_shared<const ApiContext>(std::move(ctx));
  http::Router router;

  router.get("/metrics", [c](const Request&) {
    return Response::text(200, c->metrics->serialize(), "text/plain; version=0.0.4; charset=utf-8");
  });

  router.get("/healthz", [c](const Request&) {
    const Readiness r = c->readiness();
    JsonWriter w;
    const bool live = r.loop_age <= c->liveness_limit;
    w.begin_object().field("status", live ? "ok" : "stalled").field("loop_age_ms", r.loop_age);
    w.end_object();
    return Response::json(live ? 200 : 503, w.take());
  });

  router.get("/readyz", [c](const Request&) {
    const Readiness r = c->readiness();
    JsonWriter w;
    w.begin_object().field("ready", r.ready);
    if (!r.ready) w.field("reason", r.reason);
    w.end_object();
    return Response::json(r.ready ? 200 : 503, w.take());
  });

  router.get("/api/v1/accounts/{id}", [c](const Request& req) {
    const std::string& id = req.params.at("id");
    return with_account(*c, id, [&](const model::AccountState& account) {
      auto firing = c->alerts->of_account(id);
      if (!firing.ok())
        return Response::error(500, "reading the firing alerts failed: " + firing.error().message);
      const RuleStatus::View rules = c->rules->get();
      return Response::json(200, account_view_json(account, rules.rules.get(), c->attributes(id),
                                                   c->now(), c->retention, *firing));
    });
  });

  router.get("/api/v1/accounts/{id}/report", [c](const Request& req) {
    const std::string& id = req.params.at("id");
    return with_account(*c, id, [&](const model::AccountState& account) {
      auto firing = c->alerts->of_account(id);
      if (!firing.ok())
        return Response::error(500, "reading the firing alerts failed: " + firing.error().message);
      const RuleStatus::View rules = c->rules->get();
      report::AccountReportInput in(account, rules.rules.get(), c->now());
      in.attributes = c->attributes(id);
      in.firing = std::move(firing).value();
      in.retention = c->retention;
      return Response::text(200, report::render_account_report(in), "text/html; charset=utf-8");
    });
  });

  router.get("/api/v1/accounts", [c](const Request& req) {
    if (auto bad =
            unknown_parameter(req, {"band", "kam", "tier", "signal", "key", "after", "limit"}))
      return *bad;
    const std::string band = query(req, "band"), kam = query(req, "kam"), tier = query(req, "tier"),
                      signal = query(req, "signal"), key = query(req, "key");
    if (!band.empty() && band != "red" && band != "yellow" && band != "green" && band != "unknown")
      return Response::error(400, "band must be red, yellow, green or unknown, got '" + band + "'");
    if (!key.empty() && key != "true" && key != "false")
      return Response::error(400, "key must be true or false, got '" + key + "'");
    std::size_t limit = 100;
    if (const std::string l = query(req, "limit"); !l.empty()) {
      auto [p, ec] = std::from_chars(l.data(), l.data() + l.size(), limit);
      if (ec != std::errc() || p != l.data() + l.size() || limit < 1 || limit > 1000)
        return Response::error(400, "limit must be a whole number from 1 to 1000, got '" + l + "'");
    }
    // Alerts per account (and which accounts have the asked signal firing).
    std::map<std::string, std::size_t> alert_counts;
    std::set<std::string> with_signal;
    c->alerts->for_each([&](const ActiveAlerts::Firing& t) {
      ++alert_counts[std::string(t.account)];
      if (!signal.empty() && t.label("signal") == signal) with_signal.emplace(t.account);
    });
    auto page = c->directory->list(
        [&](const AccountSummary& s) {
          return (band.empty() || s.band == band) && (kam.empty() || s.kam == kam) &&
                 (tier.empty() || s.tier == tier) &&
                 (key.empty() || s.key_account == (key == "true")) &&
                 (signal.empty() || with_signal.count(s.id));
        },
        query(req, "after"), limit);
    JsonWriter w;
    w.begin_object().key("accounts").begin_array();
    for (const auto& s : page.accounts) {
      auto n = alert_counts.find(s.id);
      write_summary(w, s, n == alert_counts.end() ? 0 : n->second);
    }
    w.end_array();
    w.key("next");
    if (page.next.empty())
      w.null();
    else
      w.value(page.next);
    w.end_object();
    return Response::json(200, w.take());
  });

  router.get("/api/v1/alerts", [c](const Request& req) {
    if (auto bad = unknown_parameter(req, {"account", "alertname", "signal", "severity", "kam"}))
      return *bad;
    std::vector<std::pair<const char*, std::string>> wanted;
    for (const char* k : {"account", "alertname", "signal", "severity", "kam"})
      if (std::string want = query(req, k); !want.empty()) wanted.emplace_back(k, std::move(want));
    auto filter = [&](const ActiveAlerts::Firing& t) {
      return std::all_of(wanted.begin(), wanted.end(),
                         [&](const auto& kv) { return t.label(kv.first) == kv.second; });
    };
    JsonWriter w;
    w.begin_object().key("alerts").begin_array();
    std::size_t n = 0;
    const auto write = [&](const std::vector<engine::AlertTransition>& alerts) {
      for (const engine::AlertTransition& t : alerts) engine::write_transition_json(w, t);
      n += alerts.size();
    };
    if (std::string account = query(req, "account"); !account.empty()) {
      // One account's alerts: looked up, not filtered out of every firing alert.
      auto alerts = c->alerts->of_account(account, filter);
      if (!alerts.ok())
        return Response::error(500, "reading the firing alerts failed: " + alerts.error().message);
      write(*alerts);
    } else {
      std::string after;
      do {
        auto page = c->alerts->page(after, 1000, filter);
        if (!page.ok())
          return Response::error(500, "reading the firing alerts failed: " + page.error().message);
        write(page->alerts);
        after = std::move(page->next);
      } while (!after.empty());
    }
    w.end_array().field("count", static_cast<std::int64_t>(n)).end_object();
    return Response::json(200, w.take());
  });

  router.get("/api/v1/rules", [c](const Request&) {
    const RuleStatus::View v = c->rules->get();
    JsonWriter w;
    w.begin_object().field("dir", v.dir);
    w.field("hash", v.rules ? v.rules->hash() : "");
    w.key("files").begin_array();
    if (v.rules)
      for (const auto& f : v.rules->files()) w.value(f);
    w.end_array();
    w.field("scorecard", v.rules && v.rules->has_scorecard());
    w.key("alerts").begin_array();
    if (v.rules) {
      for (const auto& r : v.rules->alerts()) {
        w.begin_object()
            .field("name", r->name())
            .field("signal", r->signal())
            .field("for", format_duration(r->hold()))
            .field("keep_firing_for", format_duration(r->keep_firing_for()))
            .field("min_history", format_duration(r->min_history()))
            .field("by", r->group_by())
            .field("file", r->pos().file)
            .field("line", static_cast<std::int64_t>(r->pos().line));
        w.key("reads").begin_array();
        for (const auto& t : r->reads_types()) w.value(t);
        w.end_array().end_object();
      }
    }
    w.end_array();
    w.key("last_reload").begin_object().field("success", v.last_ok);
    w.field("attempted_at", v.last_attempt ? format_rfc3339(v.last_attempt) : "");
    w.field("succeeded_at", v.last_success ? format_rfc3339(v.last_success) : "");
    w.field("error", v.last_error);
    w.end_object().end_object();
    return Response::json(200, w.take());
  });

  router.post("/-/reload", [c](const Request&) {
    auto outcome = c->reload->request_and_wait(30000);
    if (!outcome) return Response::error(504, "the reload did not finish within 30s");
    if (!outcome->ok) return Response::error(422, outcome->message);
    JsonWriter w;
    w.begin_object().field("status", "reloaded").field("hash", outcome->message).end_object();
    return Response::json(200, w.take());
  });

  return router;
}

}  // namespace kamwatch::app
