// Writes the generated seeds of fuzz/corpus (run once; its output is checked in):
//   fuzz_state_codec/  encoded accounts (empty, small, version 1, a year with derived series
//                      and alert states) and outbox records;
//   fuzz_decode_binary/ protobuf CloudEvents and binary-mode messages in the input layout of
//                      fuzz_decode_binary.cc;
//   fuzz_portfolio_partial/ encoded portfolio partials (empty, small, many summaries).
// Usage: fuzz_make_seeds CORPUS_DIR
#include <google/protobuf/any.pb.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "fuzz_rules_common.h"
#include "model/account_state.h"
#include "proto/cloudevents.pb.h"
#include "proto/events.pb.h"
#include "rules/rules.h"
#include "scoring/portfolio_partial.h"
#include "state/codec.h"

namespace {

using namespace kamwatch;

void write(const std::string& path, const std::string& bytes) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!f) {
    std::cerr << "cannot write " << path << "\n";
    std::exit(1);
  }
}

void state_seeds(const std::string& dir) {
  model::AccountState empty;
  write(dir + "/account_empty", state::encode_account(empty));

  // A handful of events, no derived series: also written as version 1 (same bytes without the
  // two empty trailing maps).
  model::AccountState small;
  small.id = "ACME-0042";
  const auto& events = fuzz::fixed_events();
  for (std::size_t i = 0; i < 12 && i < events.size(); ++i) model::apply(small, events[i], {});
  std::string v2 = state::encode_account(small);
  write(dir + "/account_small", v2);
  std::string v1 = v2.substr(0, v2.size() - 2);
  v1[0] = 1;
  write(dir + "/account_small_v1", v1);

  // Awkward doubles and every value kind.
  model::AccountState odd = small;
  model::Event e = events[1];
  e.id = "odd";
  e.time += kHourMs;
  e.data = {{"active_users", model::FieldValue::of_number(std::numeric_limits<double>::infinity())},
            {"sessions", model::FieldValue::of_number(-0.0)},
            {"nan", model::FieldValue::of_number(std::nan(""))},
            {"flag", model::FieldValue::of_bool(true)},
            {"none", model::FieldValue::null()},
            {"obj", model::FieldValue::of_json(R"({"a":[1,2]})")}};
  model::apply(odd, e, {});
  write(dir + "/account_odd_values", state::encode_account(odd));

  // A year of events with grouped and filtered derived series, and alert states.
  const rules::LoadResult r = rules::load_rules_from_strings({{"seed.yaml", R"(alerts:
  - alert: Share
    by: category
    expr: sum(sales.competitor_activity.amount, 90d) > 0.4 * sum(sales.order.amount, 90d)
    labels: {signal: competitor}
    summary: x
  - alert: Tickets
    expr: count(support.ticket{action == "opened", severity <= 2}, 30d) >= 1
    labels: {signal: churn}
    summary: x
)"}});
  if (!r.rules) {
    for (const auto& d : r.errors) std::cerr << d.to_string() << "\n";
    std::exit(1);
  }
  model::AccountState year = fuzz::build_account(*r.rules);
  model::AlertState firing;
  firing.phase = model::AlertState::Phase::kFiring;
  firing.since = fuzz::fuzz_day(390);
  firing.fired_at = fuzz::fuzz_day(397);
  firing.value = 0.62;
  firing.labels = {{"alertname", "Share"}, {"category", "software"}, {"signal", "competitor"}};
  year.alerts["Share\x1fsoftware"] = firing;
  model::AlertState pending;
  pending.phase = model::AlertState::Phase::kPending;
  pending.since = fuzz::fuzz_day(399);
  pending.value = 3;
  year.alerts["Tickets\x1f"] = pending;
  write(dir + "/account_year_derived_alerts", state::encode_account(year));

  state::OutboxRecord rec{7,
                          "dlq",
                          "ACME-0042",
                          std::string("pay\0load", 8),
                          {{"kamwatch.error.reason", "late"}, {"kamwatch.origin.topic", "t"}}};
  write(dir + "/outbox_dlq", state::encode_outbox(rec));
  state::OutboxRecord am{8,
                         "alertmanager:default",
                         "fp-1",
                         R"([{"labels":{"alertname":"Share"},"startsAt":"2026-01-01T00:00:00Z"}])",
                         {}};
  write(dir + "/outbox_alertmanager", state::encode_outbox(am));
}

using CloudEvent = io::cloudevents::v1::CloudEvent;

CloudEvent base_event(const std::string& type) {
  CloudEvent ce;
  ce.set_id("crm-7f3a91");
  ce.set_source("crm");
  ce.set_spec_version("1.0");
  ce.set_type(type);
  (*ce.mutable_attributes())["time"].set_ce_string("2026-03-02T09:15:00Z");
  (*ce.mutable_attributes())["subject"].set_ce_string("ACME-0042");
  return ce;
}

void proto_seed(const std::string& dir, const std::string& name, const CloudEvent& ce) {
  write(dir + "/" + name, std::string(1, '\0') + ce.SerializeAsString());
}

// Binary mode in fuzz_decode_binary's layout: mode byte, header count, (key index, length,
// value)..., message value. Key indexes: 0 specversion 1 id 2 source 3 type 4 time 5 subject
// 6 datacontenttype 7 ce_myext 8 content-type.
std::string binary_input(std::uint8_t mode,
                         const std::vector<std::pair<std::uint8_t, std::string>>& headers,
                         const std::string& value) {
  std::string out(1, static_cast<char>(mode));
  out += static_cast<char>(headers.size() - (mode == 3 ? 1 : 0));
  for (const auto& [key, v] : headers) {
    out += static_cast<char>(key);
    out += static_cast<char>(v.size());
    out += v;
  }
  return out + value;
}

void decode_binary_seeds(const std::string& dir) {
  CloudEvent text = base_event("sales.order");
  text.set_text_data(
      R"({"amount":12500.0,"currency":"EUR","category":"sensors","product":"S-200"})");
  proto_seed(dir, "proto_text_data", text);

  CloudEvent bin = base_event("support.ticket");
  bin.set_binary_data(
      R"({"ticket_id":"T-1","action":"opened","severity":1,"category":"hardware"})");
  proto_seed(dir, "proto_binary_data", bin);

  CloudEvent typed = base_event("sales.order");
  kamwatch::events::v1::SalesOrder order;
  order.set_amount(12500);
  order.set_currency("EUR");
  order.set_category("sensors");
  order.set_product("S-200");
  typed.mutable_proto_data()->PackFrom(order);
  proto_seed(dir, "proto_typed_order", typed);

  CloudEvent profile = base_event("account.profile");
  kamwatch::events::v1::AccountProfile p;
  p.set_name("Acme GmbH");
  p.set_kam("anna@example.com");
  p.set_tier("strategic");
  p.set_contract_value(250000);
  p.set_renewal_date("2026-12-31");
  profile.mutable_proto_data()->PackFrom(p);
  auto& ts = *(*profile.mutable_attributes())["time"].mutable_ce_timestamp();
  ts.set_seconds(1772442900);
  ts.set_nanos(250000000);
  proto_seed(dir, "proto_typed_profile_timestamp", profile);

  CloudEvent contact = base_event("relationship.contact_change");
  kamwatch::events::v1::RelationshipContactChange cc;
  cc.set_role("cto");
  cc.set_change("left");
  cc.set_champion(true);
  contact.mutable_proto_data()->PackFrom(cc);
  (*contact.mutable_attributes())["subject"].set_ce_uri_ref("ACME-0042");
  (*contact.mutable_attributes())["traceparent"].set_ce_integer(7);
  proto_seed(dir, "proto_typed_contact", contact);

  CloudEvent no_data = base_event("usage.activity");
  proto_seed(dir, "proto_no_data", no_data);

  const std::string order_json =
      R"({"amount":12500.0,"currency":"EUR","category":"sensors","product":"S-200"})";
  write(dir + "/binary_order_json_ct", binary_input(1,
                                                    {{1, "crm-7f3a91"},
                                                     {2, "crm"},
                                                     {3, "sales.order"},
                                                     {4, "2026-03-02T09:15:00Z"},
                                                     {5, "ACME-0042"}},
                                                    order_json));
  write(dir + "/binary_ticket_no_ct",
        binary_input(
            2,
            {{1, "zd-1"},
             {2, "zendesk"},
             {3, "support.ticket"},
             {4, "2026-03-02T10:15:00.250+01:00"},
             {5, "ACME-0042"},
             {7, "ext"}},
            R"({"ticket_id":"T-1","action":"resolved","severity":2,"resolution_hours":36.5})"));
  write(dir + "/binary_ct_header", binary_input(3,
                                                {{8, "application/json; charset=utf-8"},
                                                 {1, "a-1"},
                                                 {2, "analytics"},
                                                 {3, "usage.seats"},
                                                 {4, "2026-03-02T00:00:00Z"},
                                                 {5, "ACME-0042"}},
                                                R"({"licensed":200,"used":150})"));
  write(dir + "/binary_empty_value", binary_input(2,
                                                  {{1, "x-1"},
                                                   {2, "crm"},
                                                   {3, "crm.mention"},
                                                   {4, "2026-03-02T00:00:00Z"},
                                                   {5, "ACME-0042"}},
                                                  ""));
}

void partial_seeds(const std::string& dir) {
  write(dir + "/partial_empty", scoring::encode_partial(scoring::PortfolioPartial{}));
  scoring::PortfolioPartial p;
  p.partition = 7;
  p.as_of = 1'782'777'600'000;  // 2026-06-30
  p.basis = scoring::partial_basis();
  p.accounts = 6;
  p.revenues = {{1500.25, 1}, {300, 2}, {0, 2}, {-12.5, 1}};
  p.retained = 3;
  p.churned = 1;
  p.new_accounts = 1;
  p.order_accounts = 4;
  p.incomplete_summaries = 1;
  p.bucket_days = 40;
  p.day_amount = 2100.75;
  p.customers = {{0, 0, 30, 1}, {3, 200, 400, 2}, {12, 380, 900, 1}};
  write(dir + "/partial_small", scoring::encode_partial(p));
  scoring::PortfolioPartial many;
  many.partition = 0;
  many.as_of = p.as_of;
  many.basis = p.basis;
  for (std::int64_t i = 0; i < 200; ++i) {
    many.revenues.push_back({250000.0 - 1234.5 * static_cast<double>(i), 1 + i % 3});
    many.accounts += 1 + i % 3;
    const std::int64_t x = i / 10;
    many.customers.push_back({x, x == 0 ? 0 : 7 * x + i % 10, 7 * x + 400 + i % 10, 1});
  }
  many.order_accounts = 200;
  many.retained = 150;
  many.churned = 20;
  many.new_accounts = 10;
  many.bucket_days = 4000;
  many.day_amount = 1.25e6;
  write(dir + "/partial_many", scoring::encode_partial(many));
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: fuzz_make_seeds CORPUS_DIR\n";
    return 2;
  }
  const std::string dir = argv[1];
  state_seeds(dir + "/fuzz_state_codec");
  decode_binary_seeds(dir + "/fuzz_decode_binary");
  partial_seeds(dir + "/fuzz_portfolio_partial");
  std::cout << "seeds written under " << dir << "\n";
  return 0;
}
