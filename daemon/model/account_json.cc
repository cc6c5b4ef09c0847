#include "model/account_json.h"

namespace kamwatch::model {
namespace {

void write_buckets(JsonWriter& w, const std::vector<Bucket>& buckets) {
  w.begin_array();
  for (const Bucket& b : buckets) {
    w.begin_object()
        .field("start", format_rfc3339(b.start))
        .field("count", b.count)
        .field("sum", b.sum)
        .field("min", b.min)
        .field("max", b.max)
        .field("last", b.last)
        .end_object();
  }
  w.end_array();
}

void write_series(JsonWriter& w, const Series& s, const AccountJsonOptions& opt) {
  w.begin_object().field("count", s.count).field("sum", s.sum);
  if (opt.buckets) {
    w.key("hourly");
    write_buckets(w, s.hourly);
    w.key("daily");
    write_buckets(w, s.daily);
  } else {
    w.field("hourly_buckets", static_cast<std::int64_t>(s.hourly.size()));
    w.field("daily_buckets", static_cast<std::int64_t>(s.daily.size()));
  }
  w.end_object();
}

}  // namespace

void write_field_value(JsonWriter& w, const FieldValue& v) {
  switch (v.kind) {
    case FieldValue::Kind::kNull:
      w.null();
      break;
    case FieldValue::Kind::kNumber:
      w.value(v.number);
      break;
    case FieldValue::Kind::kString:
      w.value(v.text);
      break;
    case FieldValue::Kind::kBool:
      w.value(v.boolean);
      break;
    case FieldValue::Kind::kJson:
      w.raw(v.text);
      break;
  }
}

void write_account_json(JsonWriter& w, const AccountState& s, const AccountJsonOptions& opt) {
  w.begin_object();
  w.field("account", s.id);
  w.key("profile").begin_object();
  for (const auto& [k, v] : s.profile) {
    w.key(k);
    write_field_value(w, v);
  }
  w.end_object();
  w.key("events").begin_object();
  for (const auto& [type, ts] : s.types) w.field(type, ts.count);
  w.end_object();
  w.field("applied", s.applied);
  if (s.applied > 0) {
    w.field("first_event_time", format_rfc3339(s.first_time));
    w.field("last_event_time", format_rfc3339(s.max_time));
  }
  w.key("types").begin_object();
  for (const auto& [type, ts] : s.types) {
    w.key(type).begin_object();
    w.field("count", ts.count);
    w.field("first_time", format_rfc3339(ts.first_time));
    w.field("last_time", format_rfc3339(ts.last_time));
    w.key("fields").begin_object();
    for (const auto& [name, series] : ts.fields) {
      w.key(name);
      write_series(w, series, opt);
    }
    w.end_object();
    w.key("last_values").begin_object();
    for (const auto& [name, v] : ts.last_values) {
      w.key(name);
      write_field_value(w, v);
    }
    w.end_object();
    if (opt.buckets) {
      w.key("event_counts");
      write_series(w, ts.events, opt);
    }
    w.end_object();
  }
  w.end_object();
  w.end_object();
}

std::string account_json(const AccountState& s, const AccountJsonOptions& opt) {
  JsonWriter w;
  write_account_json(w, s, opt);
  return w.take();
}

}  // namespace kamwatch::model
