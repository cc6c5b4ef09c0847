#include "engine/alert.h"

#include <simdjson.h>

#include <cmath>
#include <cstdio>

#include "core/json_writer.h"

namespace kamwatch::engine {

std::string alert_key(std::string_view rule, std::string_view group) {
  std::string k(rule);
  k.push_back('\x1f');
  k.append(group);
  return k;
}

std::string fingerprint(std::string_view rule, std::string_view account, std::string_view group) {
  // FNV-1a 64 over the three parts with separators: stable across versions and machines.
  std::uint64_t h = 1469598103934665603ull;
  auto mix = [&h](std::string_view s) {
    for (unsigned char c : s) {
      h ^= c;
      h *= 1099511628211ull;
    }
    h ^= 0x1f;
    h *= 1099511628211ull;
  };
  mix(rule);
  mix(account);
  mix(group);
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
  return buf;
}

std::optional<AlertTransition::Status> step(model::AlertState& s, const rules::RuleResult& r,
                                            TimeMs hold, TimeMs keep, TimeMs now) {
  using Phase = model::AlertState::Phase;
  const bool active = r.status == rules::RuleResult::Status::kTrue;
  switch (s.phase) {
    case Phase::kInactive:
      if (!active) return std::nullopt;
      s.since = now;
      s.cleared_at = 0;
      s.value = r.value;
      if (hold <= 0) {
        s.phase = Phase::kFiring;
        s.fired_at = now;
        return AlertTransition::Status::kFiring;
      }
      s.phase = Phase::kPending;
      return std::nullopt;
    case Phase::kPending:
      if (!active) {
        s = model::AlertState{};
        return std::nullopt;
      }
      if (now - s.since >= hold) {
        s.phase = Phase::kFiring;
        s.fired_at = now;
        s.value = r.value;
        return AlertTransition::Status::kFiring;
      }
      return std::nullopt;
    case Phase::kFiring: {
      // Hysteresis: a firing alert ends only when its resolve condition holds (by default the
      // negation of the condition); keep_firing_for then holds it a while longer.
      const bool resolving = !active && r.resolve;
      if (!resolving) {
        s.cleared_at = 0;
        return std::nullopt;
      }
      if (keep > 0) {
        if (s.cleared_at == 0) s.cleared_at = now;
        if (now - s.cleared_at < keep) return std::nullopt;
      }
      s = model::AlertState{};
      s.value = r.value;
      return AlertTransition::Status::kResolved;
    }
  }
  return std::nullopt;
}

std::string transition_json(const AlertTransition& t) {
  JsonWriter w;
  write_transition_json(w, t);
  return w.take();
}

void write_transition_json(JsonWriter& w, const AlertTransition& t) {
  w.begin_object()
      .field("status", t.status_text())
      .field("alert", t.alert)
      .field("account", t.account)
      .field("group", t.group);
  w.key("labels").begin_object();
  for (const auto& [k, v] : t.labels) w.field(k, v);
  w.end_object();
  w.key("annotations").begin_object();
  for (const auto& [k, v] : t.annotations) w.field(k, v);
  w.end_object();
  w.field("at", format_rfc3339(t.at));
  w.field("starts_at", format_rfc3339(t.starts_at));
  w.field("value", t.value);
  w.key("evidence").begin_object();
  for (const auto& [k, v] : t.evidence) w.field(k, v);
  w.end_object();
  w.field("fingerprint", t.fingerprint);
  w.end_object();
}

Result<AlertTransition> parse_transition_json(std::string_view json) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (auto err = parser.parse(json.data(), json.size()).get(doc); err)
    return Error{"invalid_transition", simdjson::error_message(err)};
  auto bad = [](const std::string& what) { return Error{"invalid_transition", what}; };
  AlertTransition t;
  std::string_view sv;
  auto str = [&](const char* key, std::string& out) {
    if (doc[key].get_string().get(sv)) return false;
    out.assign(sv);
    return true;
  };
  std::string status, at, starts_at;
  if (!str("status", status) || (status != "firing" && status != "resolved"))
    return bad("missing or bad status");
  t.status =
      status == "firing" ? AlertTransition::Status::kFiring : AlertTransition::Status::kResolved;
  if (!str("alert", t.alert) || !str("account", t.account) || !str("fingerprint", t.fingerprint))
    return bad("missing alert, account or fingerprint");
  str("group", t.group);
  if (!str("at", at) || !str("starts_at", starts_at)) return bad("missing at or starts_at");
  auto a = parse_rfc3339(at);
  auto s = parse_rfc3339(starts_at);
  if (!a || !s) return bad("bad at or starts_at time");
  t.at = *a;
  t.starts_at = *s;
  double v = NAN;
  t.value = doc["value"].get_double().get(v) ? NAN : v;
  for (const char* section : {"labels", "annotations"}) {
    simdjson::dom::object obj;
    if (doc[section].get_object().get(obj)) continue;
    auto& out = section[0] == 'l' ? t.labels : t.annotations;
    for (auto field : obj) {
      if (field.value.get_string().get(sv))
        return bad(std::string("non-string value in ") + section);
      out.emplace(std::string(field.key), std::string(sv));
    }
  }
  simdjson::dom::object ev;
  if (!doc["evidence"].get_object().get(ev)) {
    for (auto field : ev) {
      double d = NAN;
      if (field.value.get_double().get(d)) d = NAN;
      t.evidence.emplace_back(std::string(field.key), d);
    }
  }
  return t;
}

}  // namespace kamwatch::engine
