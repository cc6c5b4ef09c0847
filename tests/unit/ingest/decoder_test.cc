#include "ingest/decoder.h"

#include <gmock/gmock.h>
#include <google/protobuf/descriptor.h>
#include <google/protobuf/message.h>
#include <google/protobuf/text_format.h>
#include <gtest/gtest.h>

#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "core/time.h"
#include "ingest/catalog.h"

namespace kamwatch::ingest {
namespace {

using model::Field;
using model::FieldValue;
using ::testing::HasSubstr;

constexpr std::string_view kTime = "2026-03-02T09:15:00Z";

// One attribute override: a raw JSON value, or nullopt to leave the attribute out.
using Override = std::pair<std::string, std::optional<std::string>>;

// A structured event with the usual attributes; data is raw JSON ("" = no data member).
std::string event_json(std::string_view type, std::string_view data,
                       const std::vector<Override>& overrides = {}) {
  std::vector<std::pair<std::string, std::optional<std::string>>> attrs = {
      {"specversion", R"("1.0")"},
      {"id", R"("crm-7f3a91")"},
      {"source", R"("crm")"},
      {"type", "\"" + std::string(type) + "\""},
      {"time", R"("2026-03-02T09:15:00Z")"},
      {"subject", R"("ACME-0042")"}};
  for (const auto& [name, value] : overrides) {
    bool found = false;
    for (auto& a : attrs) {
      if (a.first == name) {
        a.second = value;
        found = true;
      }
    }
    if (!found) attrs.emplace_back(name, value);
  }
  std::string out = "{";
  for (const auto& [name, value] : attrs) {
    if (!value) continue;
    if (out.size() > 1) out += ',';
    out += "\"" + name + "\":" + *value;
  }
  if (!data.empty()) out += ",\"data\":" + std::string(data);
  return out + "}";
}

std::string order_json(std::string_view data = R"({"amount":12500.0,"currency":"EUR",)"
                                               R"("category":"sensors","product":"S-200"})") {
  return event_json("sales.order", data);
}

Field num(std::string name, double v) { return {std::move(name), FieldValue::of_number(v)}; }
Field str(std::string name, std::string v) {
  return {std::move(name), FieldValue::of_string(std::move(v))};
}
Field boolean(std::string name, bool v) { return {std::move(name), FieldValue::of_bool(v)}; }

class DecoderTest : public ::testing::Test {
 protected:
  // Decodes json and expects a rejection with reason; returns its message.
  std::string rejected(std::string_view json, Reason reason) {
    model::Event ev;
    const auto r = decoder_.decode_json(json, ev);
    EXPECT_TRUE(r.has_value()) << "accepted: " << json;
    if (!r) return {};
    EXPECT_EQ(reason_code(r->reason), reason_code(reason)) << r->message << "\n  for " << json;
    return r->message;
  }
  model::Event accepted(std::string_view json) {
    model::Event ev;
    const auto r = decoder_.decode_json(json, ev);
    EXPECT_FALSE(r.has_value()) << reason_code(r->reason) << ": " << r->message;
    return ev;
  }

  Decoder decoder_;
};

// --- valid structured events --------------------------------------------------------------

struct Sample {
  std::string type;
  std::string data;
  std::vector<Field> fields;
};

std::vector<Sample> catalog_samples() {
  return {
      {"account.profile",
       R"({"name":"Acme GmbH","kam":"anna@example.com","tier":"strategic","industry":"machinery",)"
       R"("region":"DACH","parent":"ACME-0001","contract_value":250000,"renewal_date":"2026-12-31"})",
       {str("name", "Acme GmbH"), str("kam", "anna@example.com"), str("tier", "strategic"),
        str("industry", "machinery"), str("region", "DACH"), str("parent", "ACME-0001"),
        num("contract_value", 250000), str("renewal_date", "2026-12-31")}},
      {"sales.order",
       R"({"amount":12500.0,"currency":"EUR","category":"sensors","product":"S-200"})",
       {num("amount", 12500), str("currency", "EUR"), str("category", "sensors"),
        str("product", "S-200")}},
      {"sales.invoice",
       R"({"amount":4200.5,"status":"overdue","days_late":12})",
       {num("amount", 4200.5), str("status", "overdue"), num("days_late", 12)}},
      {"sales.contract",
       R"({"action":"renewed","arr":120000,"renewal_date":"2027-03-01"})",
       {str("action", "renewed"), num("arr", 120000), str("renewal_date", "2027-03-01")}},
      {"sales.opportunity",
       R"({"stage":"lost","amount":50000,"category":"sensors","competitor":"Globex"})",
       {str("stage", "lost"), num("amount", 50000), str("category", "sensors"),
        str("competitor", "Globex")}},
      {"sales.competitor_activity",
       R"({"competitor":"Globex","category":"sensors","amount":1e4,"signal":"crm_note"})",
       {str("competitor", "Globex"), str("category", "sensors"), num("amount", 10000),
        str("signal", "crm_note")}},
      {"support.ticket",
       R"({"ticket_id":"T-1","action":"resolved","severity":2,"category":"hardware",)"
       R"("resolution_hours":36.5})",
       {str("ticket_id", "T-1"), str("action", "resolved"), num("severity", 2),
        str("category", "hardware"), num("resolution_hours", 36.5)}},
      {"support.sla_breach",
       R"({"ticket_id":"T-1","sla":"response","overdue_hours":4})",
       {str("ticket_id", "T-1"), str("sla", "response"), num("overdue_hours", 4)}},
      {"support.csat", R"({"score":4})", {num("score", 4)}},
      {"survey.nps", R"({"score":0,"role":"exec"})", {num("score", 0), str("role", "exec")}},
      {"usage.activity",
       R"({"active_users":120,"sessions":480})",
       {num("active_users", 120), num("sessions", 480)}},
      {"usage.feature",
       R"({"feature":"reports","count":37})",
       {str("feature", "reports"), num("count", 37)}},
      {"usage.seats", R"({"licensed":200,"used":150})", {num("licensed", 200), num("used", 150)}},
      {"relationship.meeting",
       R"({"kind":"qbr","level":"exec"})",
       {str("kind", "qbr"), str("level", "exec")}},
      {"relationship.contact_change",
       R"({"role":"cto","change":"left","champion":true})",
       {str("role", "cto"), str("change", "left"), boolean("champion", true)}},
  };
}

TEST_F(DecoderTest, EveryCatalogTypeRoundTrips) {
  std::set<std::string> covered;
  for (const Sample& s : catalog_samples()) {
    SCOPED_TRACE(s.type);
    const model::Event ev = accepted(event_json(s.type, s.data));
    EXPECT_EQ(ev.id, "crm-7f3a91");
    EXPECT_EQ(ev.source, "crm");
    EXPECT_EQ(ev.type, s.type);
    EXPECT_EQ(ev.subject, "ACME-0042");
    EXPECT_EQ(ev.time, *parse_rfc3339(kTime));
    EXPECT_EQ(ev.data, s.fields);
    covered.insert(s.type);
  }
  // The samples must cover the whole catalog, so a new type cannot go untested.
  for (const EventTypeSpec& t : known_event_types())
    EXPECT_TRUE(covered.count(std::string(t.type))) << t.type;
  EXPECT_EQ(known_event_types().size(), covered.size());
}

TEST_F(DecoderTest, CatalogExample) {
  const model::Event ev = accepted(
      R"({"specversion":"1.0","id":"crm-7f3a91","source":"crm","type":"sales.order",)"
      R"( "time":"2026-03-02T09:15:00Z","subject":"ACME-0042",)"
      "\n"
      R"( "data":{"amount":12500.0,"currency":"EUR","category":"sensors","product":"S-200"}})");
  ASSERT_NE(ev.find("amount"), nullptr);
  EXPECT_EQ(ev.find("amount")->number, 12500.0);
  EXPECT_EQ(ev.find("product")->text, "S-200");
  EXPECT_EQ(ev.find("missing"), nullptr);
}

TEST_F(DecoderTest, UnknownTypeAndFieldsAreKept) {
  const model::Event ev = accepted(
      event_json("custom.webinar_attended",
                 R"({"title":"Sensors 101","minutes":45,"live":false,"host":null,)"
                 R"("tags":["iot", "edge"],"meta":{"lang":"de","n":[1,2]},"esc":"a\"b\u00e9"})"));
  EXPECT_EQ(ev.type, "custom.webinar_attended");
  const std::vector<Field> want = {
      str("title", "Sensors 101"),
      num("minutes", 45),
      boolean("live", false),
      {"host", FieldValue::null()},
      {"tags", FieldValue::of_json(R"(["iot","edge"])")},
      {"meta", FieldValue::of_json(R"({"lang":"de","n":[1,2]})")},
      str("esc", "a\"b\xc3\xa9"),
  };
  EXPECT_EQ(ev.data, want);
  EXPECT_EQ(find_event_type("custom.webinar_attended"), nullptr);

  // An unknown field on a known type is kept too, with any kind.
  const model::Event order = accepted(order_json(R"({"amount":1,"channel":"web","rush":true})"));
  ASSERT_NE(order.find("channel"), nullptr);
  EXPECT_EQ(order.find("channel")->text, "web");
  EXPECT_TRUE(order.find("rush")->boolean);
}

TEST_F(DecoderTest, DataIsOptionalAndNullMeansNoFields) {
  EXPECT_TRUE(accepted(event_json("relationship.meeting", "")).data.empty());
  EXPECT_TRUE(accepted(event_json("relationship.meeting", "null")).data.empty());
  EXPECT_TRUE(accepted(event_json("relationship.meeting", "{}")).data.empty());
}

TEST_F(DecoderTest, OptionalAndExtensionAttributesAreAccepted) {
  const model::Event ev = accepted(event_json("sales.order", R"({"amount":1})",
                                              {{"datacontenttype", R"("application/json")"},
                                               {"traceparent", R"("00-ab-cd-01")"},
                                               {"partitionkey", R"({"k":[1,2,{"x":null}]})"},
                                               {"sampled", "true"},
                                               {"rate", "0.5"}}));
  EXPECT_EQ(ev.data, std::vector<Field>{num("amount", 1)});
}

TEST_F(DecoderTest, TimeOffsetsAndFractionsAreNormalisedToUtc) {
  const model::Event ev = accepted(event_json("support.csat", R"({"score":5})",
                                              {{"time", R"("2026-03-02T10:15:00.250+01:00")"}}));
  EXPECT_EQ(ev.time, *parse_rfc3339(kTime) + 250);
}

TEST_F(DecoderTest, OutIsFullyOverwrittenWhenReused) {
  model::Event ev;
  ASSERT_FALSE(decoder_.decode_json(event_json("account.profile", catalog_samples()[0].data), ev));
  ASSERT_FALSE(decoder_.decode_json(event_json("support.csat", R"({"score":3})"), ev));
  EXPECT_EQ(ev.type, "support.csat");
  EXPECT_EQ(ev.data, std::vector<Field>{num("score", 3)});
  ASSERT_FALSE(decoder_.decode_json(event_json("usage.feature", "null"), ev));
  EXPECT_TRUE(ev.data.empty());
}

TEST_F(DecoderTest, RepeatedDataKeyLastOneWins) {
  const model::Event ev = accepted(order_json(R"({"amount":1,"currency":"EUR","amount":2})"));
  EXPECT_EQ(ev.data, (std::vector<Field>{num("amount", 2), str("currency", "EUR")}));
}

TEST_F(DecoderTest, JsonLinesWhitespaceIsFine) { accepted("  " + order_json() + "\r\n"); }

// --- malformed events ---------------------------------------------------------------------

TEST_F(DecoderTest, TruncatedJsonIsInvalidAtEveryCut) {
  const std::string full = order_json();
  for (std::size_t n = 0; n < full.size(); ++n) {
    const std::string msg = rejected(full.substr(0, n), Reason::kInvalidJson);
    EXPECT_THAT(msg, HasSubstr("JSON is")) << "cut at " << n;
  }
  EXPECT_THAT(rejected(full.substr(0, 57), Reason::kInvalidJson), HasSubstr("truncated"));
}

TEST_F(DecoderTest, MalformedJsonNamesThePosition) {
  std::string bad = order_json();
  bad.replace(bad.find("\"crm\""), 5, "crm");  // an unquoted word
  EXPECT_THAT(rejected(bad, Reason::kInvalidJson), HasSubstr("at byte"));
  rejected(order_json() + " {}", Reason::kInvalidJson);                       // trailing content
  rejected(order_json(R"({"amount":1,"x":[1,tru]})"), Reason::kInvalidJson);  // nested
  rejected(event_json("sales.order", "{}", {{"ext", "nul"}}), Reason::kInvalidJson);
  rejected(order_json(R"({"amount":1,})"), Reason::kInvalidJson);
  rejected("{\"id\":\"\xff\xfe\"}", Reason::kInvalidJson);  // not UTF-8
}

TEST_F(DecoderTest, DeepNestingIsRejectedNotFatal) {
  const std::string deep = std::string(5000, '[') + std::string(5000, ']');
  EXPECT_THAT(rejected(order_json(R"({"x":)" + deep + "}"), Reason::kInvalidJson),
              HasSubstr("too deep"));
  rejected(std::string(100000, '{'), Reason::kInvalidJson);
  // 200 levels is fine, and kept as JSON text.
  const std::string ok = std::string(200, '[') + std::string(200, ']');
  EXPECT_EQ(accepted(order_json(R"({"x":)" + ok + "}")).find("x")->text, ok);
}

// Every single-byte corruption of a valid event is either decoded or rejected; none may
// crash (the debug build keeps simdjson's internal assertions on).
TEST_F(DecoderTest, CorruptedBytesNeverCrash) {
  const std::string good =
      order_json(R"({"amount":1.5e3,"currency":"EUR","tags":["a",{"b":null}]})");
  model::Event ev;
  int rejected_count = 0;
  for (std::size_t i = 0; i < good.size(); ++i) {
    for (const char c : {'\0', '"', '{', '}', '[', ']', ',', ':', 'x', '\\', '\xff', ' '}) {
      std::string bad = good;
      bad[i] = c;
      if (const auto r = decoder_.decode_json(bad, ev)) {
        ++rejected_count;
        EXPECT_FALSE(r->message.empty());
      }
    }
  }
  EXPECT_GT(rejected_count, 0);
  // The decoder is still fine afterwards.
  accepted(good);
}

TEST_F(DecoderTest, NotAnObject) {
  EXPECT_THAT(rejected("[1]", Reason::kNotAnObject), HasSubstr("got array"));
  EXPECT_THAT(rejected("\"sales.order\"", Reason::kNotAnObject), HasSubstr("got string"));
  EXPECT_THAT(rejected("42", Reason::kNotAnObject), HasSubstr("got number"));
}

TEST_F(DecoderTest, EachMissingRequiredAttributeIsNamed) {
  for (const char* attr : {"specversion", "id", "source", "type", "time", "subject"}) {
    SCOPED_TRACE(attr);
    const std::string json = event_json("sales.order", R"({"amount":1})", {{attr, std::nullopt}});
    EXPECT_THAT(rejected(json, Reason::kMissingAttribute),
                HasSubstr("missing required attribute '" + std::string(attr) + "'"));
    // null counts as absent (CloudEvents), the empty string as missing.
    rejected(event_json("sales.order", "", {{attr, "null"}}), Reason::kMissingAttribute);
  }
  for (const char* attr : {"id", "source", "type", "subject"}) {
    EXPECT_THAT(
        rejected(event_json("sales.order", "", {{attr, R"("")"}}), Reason::kMissingAttribute),
        HasSubstr("'" + std::string(attr) + "' is empty"));
  }
}

TEST_F(DecoderTest, BadSpecVersion) {
  EXPECT_THAT(rejected(event_json("sales.order", "", {{"specversion", R"("0.3")"}}),
                       Reason::kBadSpecVersion),
              HasSubstr(R"(must be "1.0", got "0.3")"));
  EXPECT_THAT(
      rejected(event_json("sales.order", "", {{"specversion", "1.0"}}), Reason::kBadAttribute),
      HasSubstr("attribute 'specversion' must be a string, got number"));
}

TEST_F(DecoderTest, AttributeOfWrongJsonType) {
  EXPECT_THAT(rejected(event_json("sales.order", "", {{"id", "42"}}), Reason::kBadAttribute),
              HasSubstr("attribute 'id' must be a string, got number"));
  EXPECT_THAT(
      rejected(event_json("sales.order", "", {{"subject", R"({"id":1})"}}), Reason::kBadAttribute),
      HasSubstr("attribute 'subject' must be a string, got object"));
}

TEST_F(DecoderTest, BadTimeInSeveralForms) {
  for (const char* t :
       {"2026-13-01T00:00:00Z", "2026-02-30T09:15:00Z", "2026-03-02", "2026-03-02T09:15:00",
        "2026-03-02T25:00:00Z", "yesterday", "", "2026-03-02T09:15:00+0100", "1772442900"}) {
    SCOPED_TRACE(t);
    EXPECT_THAT(
        rejected(event_json("sales.order", "", {{"time", "\"" + std::string(t) + "\""}}),
                 Reason::kBadTime),
        HasSubstr("attribute 'time' is not an RFC 3339 timestamp: \"" + std::string(t) + "\""));
  }
  rejected(event_json("sales.order", "", {{"time", "1772442900"}}), Reason::kBadAttribute);
}

TEST_F(DecoderTest, WrongFieldType) {
  EXPECT_EQ(rejected(order_json(R"({"amount":"12500"})"), Reason::kWrongFieldType),
            R"(field 'amount' of sales.order must be a number, got string "12500")");
  EXPECT_THAT(rejected(order_json(R"({"amount":1,"currency":978})"), Reason::kWrongFieldType),
              HasSubstr("field 'currency' of sales.order must be a string, got number 978"));
  EXPECT_THAT(
      rejected(event_json("relationship.contact_change", R"({"champion":"yes"})"),
               Reason::kWrongFieldType),
      HasSubstr("field 'champion' of relationship.contact_change must be a bool, got string"));
  EXPECT_THAT(rejected(order_json(R"({"amount":[1,2]})"), Reason::kWrongFieldType),
              HasSubstr(R"(must be a number, got array "[1,2]")"));
  EXPECT_THAT(
      rejected(event_json("sales.contract", R"({"renewal_date":"2027-02-30"})"),
               Reason::kWrongFieldType),
      HasSubstr(
          R"(field 'renewal_date' of sales.contract must be a date YYYY-MM-DD, got string "2027-02-30")"));
  rejected(event_json("account.profile", R"({"renewal_date":20270301})"), Reason::kWrongFieldType);
  rejected(event_json("account.profile", R"({"renewal_date":"2027-03-01T00:00:00Z"})"),
           Reason::kWrongFieldType);
  // Null is accepted for any field, like an absent one.
  accepted(order_json(R"({"amount":null,"product":null})"));
}

TEST_F(DecoderTest, EnumValuesAreNotChecked) {
  // Producers may extend enums: only kinds and ranges are validated.
  accepted(event_json("sales.invoice", R"({"amount":1,"status":"disputed","days_late":0})"));
  accepted(event_json("relationship.meeting", R"({"kind":"dinner","level":"board"})"));
}

TEST_F(DecoderTest, DataNotAnObject) {
  EXPECT_THAT(rejected(order_json("[1,2]"), Reason::kDataNotObject),
              HasSubstr("attribute 'data' must be a JSON object, got array"));
  EXPECT_THAT(rejected(order_json(R"("amount=5")"), Reason::kDataNotObject),
              HasSubstr("got string"));
  rejected(order_json("5"), Reason::kDataNotObject);
  rejected(event_json("sales.order", "", {{"data_base64", R"("e30=")"}}), Reason::kDataNotObject);
}

TEST_F(DecoderTest, OutOfRange) {
  EXPECT_EQ(rejected(order_json(R"({"amount":-1})"), Reason::kOutOfRange),
            "field 'amount' of sales.order must be a number >= 0, got -1");
  EXPECT_EQ(rejected(event_json("support.ticket", R"({"severity":5})"), Reason::kOutOfRange),
            "field 'severity' of support.ticket must be an integer from 1 to 4, got 5");
  EXPECT_THAT(rejected(event_json("support.ticket", R"({"severity":2.5})"), Reason::kOutOfRange),
              HasSubstr("got 2.5"));
  EXPECT_THAT(rejected(event_json("support.csat", R"({"score":0})"), Reason::kOutOfRange),
              HasSubstr("field 'score' of support.csat must be an integer from 1 to 5, got 0"));
  EXPECT_THAT(rejected(event_json("survey.nps", R"({"score":11})"), Reason::kOutOfRange),
              HasSubstr("from 0 to 10, got 11"));
  rejected(event_json("sales.invoice", R"({"days_late":-3})"), Reason::kOutOfRange);
  rejected(event_json("usage.seats", R"({"licensed":10,"used":-1})"), Reason::kOutOfRange);
  rejected(event_json("usage.activity", R"({"active_users":1.5})"), Reason::kOutOfRange);
  rejected(event_json("sales.contract", R"({"arr":-100})"), Reason::kOutOfRange);
  // Boundaries are inclusive; an invoice amount may be negative (credit note).
  accepted(event_json("support.ticket", R"({"severity":1})"));
  accepted(event_json("support.ticket", R"({"severity":4.0})"));
  accepted(event_json("survey.nps", R"({"score":10})"));
  accepted(event_json("sales.invoice", R"({"amount":-250})"));
}

TEST_F(DecoderTest, StringTooLong) {
  const std::string limit(1024, 'x');
  accepted(order_json(R"({"category":")" + limit + R"("})"));
  EXPECT_THAT(rejected(order_json(R"({"category":")" + limit + R"(y"})"), Reason::kStringTooLong),
              HasSubstr("field 'category' is 1025 bytes, over the 1024-byte limit"));
  // Unknown fields and attributes too.
  rejected(order_json(R"({"note":")" + limit + R"(y"})"), Reason::kStringTooLong);
  EXPECT_THAT(rejected(event_json("sales.order", "", {{"id", "\"" + limit + "y\""}}),
                       Reason::kStringTooLong),
              HasSubstr("attribute 'id' is 1025 bytes"));
  // The message quotes only the start of the value.
  EXPECT_LT(
      rejected(order_json(R"({"category":")" + limit + R"(y"})"), Reason::kStringTooLong).size(),
      200u);
}

TEST_F(DecoderTest, Oversize) {
  Decoder small({.max_message_bytes = 100});
  model::Event ev;
  const auto r = small.decode_json(order_json(), ev);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->reason, Reason::kOversize);
  EXPECT_THAT(r->message, HasSubstr("over the 100-byte limit"));
  // Checked before parsing: even garbage of that size is "oversize", not "invalid JSON".
  const std::string garbage(101, '{');
  RawMessage msg;
  msg.value = garbage;
  EXPECT_EQ(small.decode(msg, ev)->reason, Reason::kOversize);
}

TEST_F(DecoderTest, ReasonCodesAreStable) {
  const std::vector<std::pair<Reason, std::string_view>> codes = {
      {Reason::kInvalidJson, "invalid_json"},
      {Reason::kNotAnObject, "not_an_object"},
      {Reason::kMissingAttribute, "missing_attribute"},
      {Reason::kBadSpecVersion, "bad_specversion"},
      {Reason::kBadAttribute, "bad_attribute"},
      {Reason::kBadTime, "bad_time"},
      {Reason::kDataNotObject, "data_not_object"},
      {Reason::kWrongFieldType, "wrong_field_type"},
      {Reason::kOutOfRange, "out_of_range"},
      {Reason::kStringTooLong, "string_too_long"},
      {Reason::kOversize, "oversize"},
      {Reason::kBadProtobuf, "bad_protobuf"},
      {Reason::kUnsupportedContent, "unsupported_content_type"},
      {Reason::kLate, "late"},
      {Reason::kPoison, "poison"},
      {Reason::kProcessingError, "processing_error"},
  };
  for (const auto& [reason, code] : codes) EXPECT_EQ(reason_code(reason), code);
}

TEST_F(DecoderTest, LongBadValuesAreTruncatedInMessages) {
  const std::string t = "\"" + std::string(500, '9') + "\"";
  const std::string msg = rejected(event_json("sales.order", "", {{"time", t}}), Reason::kBadTime);
  EXPECT_LT(msg.size(), 140u);
  EXPECT_THAT(msg, HasSubstr("..."));
}

// --- Kafka messages: content types and binary mode ----------------------------------------

class RawDecodeTest : public DecoderTest {
 protected:
  std::optional<Rejection> decode(std::string_view value, std::vector<Header> headers) {
    headers_ = std::move(headers);
    RawMessage msg;
    msg.topic = "events";
    msg.partition = 0;
    msg.offset = 7;
    msg.value = value;
    msg.headers = headers_;
    return decoder_.decode(msg, ev_);
  }
  std::vector<Header> binary_headers() const {
    return {{"ce_specversion", "1.0"},  {"ce_id", "crm-7f3a91"}, {"ce_source", "crm"},
            {"ce_type", "sales.order"}, {"ce_time", kTime},      {"ce_subject", "ACME-0042"}};
  }
  std::vector<Header> without(std::string_view key) const {
    std::vector<Header> h;
    for (const Header& x : binary_headers())
      if (x.key != key) h.push_back(x);
    return h;
  }

  std::vector<Header> headers_;
  model::Event ev_;
};

TEST_F(RawDecodeTest, StructuredContentTypes) {
  const std::string json = order_json();
  const model::Event want = accepted(json);
  EXPECT_FALSE(decode(json, {}));
  EXPECT_EQ(ev_, want);
  EXPECT_FALSE(decode(json, {{"content-type", "application/cloudevents+json"}}));
  EXPECT_FALSE(decode(json, {{"Content-Type", "application/cloudevents+json; charset=UTF-8"}}));
  EXPECT_FALSE(decode(json, {{"content-type", "application/json"}}));
  EXPECT_EQ(ev_, want);
}

TEST_F(RawDecodeTest, UnsupportedContentType) {
  auto r = decode(order_json(), {{"content-type", "application/xml"}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->reason, Reason::kUnsupportedContent);
  EXPECT_THAT(r->message, HasSubstr("\"application/xml\""));
  r = decode(order_json(), {{"content-type", "application/cloudevents+avro"}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->reason, Reason::kUnsupportedContent);
}

TEST_F(RawDecodeTest, BinaryModeMatchesStructured) {
  const std::string data =
      R"({"amount":12500.0,"currency":"EUR","category":"sensors","product":"S-200"})";
  const model::Event want = accepted(order_json(data));
  ASSERT_FALSE(decode(data, binary_headers()));
  EXPECT_EQ(ev_, want);
  auto h = binary_headers();
  h.push_back({"content-type", "application/json"});
  h.push_back({"ce_traceparent", "00-ab-cd-01"});
  ASSERT_FALSE(decode(data, h));
  EXPECT_EQ(ev_, want);
  // No value: an event without data.
  ASSERT_FALSE(decode("", binary_headers()));
  EXPECT_TRUE(ev_.data.empty());
  EXPECT_EQ(ev_.subject, "ACME-0042");
}

TEST_F(RawDecodeTest, BinaryModeErrors) {
  auto r = decode(R"({"amount":1})", without("ce_time"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->reason, Reason::kMissingAttribute);
  EXPECT_THAT(r->message, HasSubstr("'time' (header 'ce_time')"));

  auto h = without("ce_time");
  h.push_back({"ce_time", "2026-02-30T00:00:00Z"});
  r = decode(R"({"amount":1})", h);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->reason, Reason::kBadTime);
  EXPECT_THAT(r->message, HasSubstr("\"2026-02-30T00:00:00Z\""));

  h = without("ce_specversion");
  h.push_back({"ce_specversion", "0.3"});
  EXPECT_EQ(decode("", h)->reason, Reason::kBadSpecVersion);

  r = decode("[1]", binary_headers());
  ASSERT_TRUE(r);
  EXPECT_EQ(r->reason, Reason::kDataNotObject);
  EXPECT_THAT(r->message, HasSubstr("message value (data) must be a JSON object, got array"));

  r = decode(R"({"amount":1)", binary_headers());
  ASSERT_TRUE(r);
  EXPECT_EQ(r->reason, Reason::kInvalidJson);
  EXPECT_THAT(r->message, HasSubstr("message value (data)"));

  EXPECT_EQ(decode(R"({"amount":"1"})", binary_headers())->reason, Reason::kWrongFieldType);

  h = binary_headers();
  h.push_back({"content-type", "text/plain"});
  EXPECT_EQ(decode("hello", h)->reason, Reason::kUnsupportedContent);

  h = without("ce_subject");
  h.push_back({"ce_subject", "\xc3\x28"});
  EXPECT_EQ(decode("", h)->reason, Reason::kBadAttribute);
}

// --- protobuf ------------------------------------------------------------------------------

// Builds an io.cloudevents.v1.CloudEvent from text format, through the generated descriptor
// pool (the generated headers are private to kamwatch::ingest).
std::string cloud_event_pb(const std::string& text) {
  const auto* d = google::protobuf::DescriptorPool::generated_pool()->FindMessageTypeByName(
      "io.cloudevents.v1.CloudEvent");
  EXPECT_NE(d, nullptr);
  if (d == nullptr) return {};
  std::unique_ptr<google::protobuf::Message> m(
      google::protobuf::MessageFactory::generated_factory()->GetPrototype(d)->New());
  EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(text, m.get())) << text;
  return m->SerializeAsString();
}

constexpr std::string_view kPbAttrs = R"pb(
  id: "crm-7f3a91"
  source: "crm"
  spec_version: "1.0"
  attributes {
    key: "time"
    value { ce_timestamp { seconds: 1772442900 } }
  }
  attributes {
    key: "subject"
    value { ce_string: "ACME-0042" }
  }
)pb";

std::string pb_event(std::string_view type, std::string_view rest) {
  return cloud_event_pb(std::string(kPbAttrs) + "type: \"" + std::string(type) + "\"\n" +
                        std::string(rest));
}

const std::vector<Header> kPbHeaders = {{"content-type", "application/cloudevents+protobuf"}};

TEST_F(RawDecodeTest, ProtobufWithTextData) {
  const model::Event want = accepted(order_json());
  const std::string bytes = pb_event(
      "sales.order",
      R"pb(text_data: "{\"amount\":12500.0,\"currency\":\"EUR\",\"category\":\"sensors\",\"product\":\"S-200\"}")pb");
  ASSERT_FALSE(decode(bytes, kPbHeaders));
  EXPECT_EQ(ev_, want);
  // binary_data is JSON text too.
  ASSERT_FALSE(decode(pb_event("support.csat", R"pb(binary_data: "{\"score\":5}")pb"), kPbHeaders));
  EXPECT_EQ(ev_.data, std::vector<Field>{num("score", 5)});
  // time may be an RFC 3339 string.
  ASSERT_FALSE(decode(cloud_event_pb(R"pb(
                        id: "1"
                        source: "crm"
                        spec_version: "1.0"
                        type: "support.csat"
                        attributes {
                          key: "time"
                          value { ce_string: "2026-03-02T09:15:00Z" }
                        }
                        attributes {
                          key: "subject"
                          value { ce_string: "ACME-0042" }
                        })pb"),
                      kPbHeaders));
  EXPECT_EQ(ev_.time, *parse_rfc3339(kTime));
  EXPECT_TRUE(ev_.data.empty());
}

TEST_F(RawDecodeTest, ProtobufWithTypedProtoData) {
  const model::Event want =
      accepted(order_json(R"({"amount":12500.0,"currency":"EUR","category":"sensors"})"));
  // The optional product is unset, so it is omitted, as if absent from JSON.
  ASSERT_FALSE(decode(pb_event("sales.order", R"pb(
                        proto_data {
                          [type.googleapis.com/kamwatch.events.v1.SalesOrder] {
                            amount: 12500
                            currency: "EUR"
                            category: "sensors"
                          }
                        })pb"),
                      kPbHeaders));
  EXPECT_EQ(ev_, want);

  ASSERT_FALSE(decode(pb_event("relationship.contact_change", R"pb(
                        proto_data {
                          [type.googleapis.com/kamwatch.events.v1.RelationshipContactChange] {
                            role: "cto"
                            change: "joined"
                            champion: true
                          }
                        })pb"),
                      kPbHeaders));
  EXPECT_EQ(ev_.data, (std::vector<Field>{str("role", "cto"), str("change", "joined"),
                                          boolean("champion", true)}));

  // A cancelled contract has no renewal date: unset, it is absent (not "", not a bad date).
  ASSERT_FALSE(decode(
      pb_event("sales.contract", R"pb(
        proto_data {
          [type.googleapis.com/kamwatch.events.v1.SalesContract] { action: "cancelled" arr: 0 }
        })pb"),
      kPbHeaders));
  EXPECT_EQ(ev_.data, (std::vector<Field>{str("action", "cancelled"), num("arr", 0)}));

  // Plain proto3 scalars are always present, with their zero default.
  ASSERT_FALSE(decode(
      pb_event("support.ticket", R"pb(
        proto_data {
          [type.googleapis.com/kamwatch.events.v1.SupportTicket] { ticket_id: "T-9" severity: 1 }
        })pb"),
      kPbHeaders));
  EXPECT_EQ(ev_.data, (std::vector<Field>{str("ticket_id", "T-9"), str("action", ""),
                                          num("severity", 1), str("category", "")}));

  // Typed data is validated like JSON data.
  auto r = decode(pb_event("support.csat", R"pb(
                    proto_data {
                      [type.googleapis.com/kamwatch.events.v1.SupportCsat] { score: 9 }
                    })pb"),
                  kPbHeaders);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->reason, Reason::kOutOfRange);
}

TEST_F(RawDecodeTest, ProtobufErrors) {
  for (const std::string_view garbage :
       {std::string_view("\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff"),
        std::string_view("not a protobuf at all")}) {
    const auto r = decode(garbage, kPbHeaders);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->reason, Reason::kBadProtobuf);
    EXPECT_THAT(r->message, HasSubstr("is not a valid io.cloudevents.v1.CloudEvent"));
  }

  // The Any must hold the message of the event's type.
  auto r = decode(pb_event("sales.order", R"pb(
                    proto_data {
                      [type.googleapis.com/kamwatch.events.v1.SupportCsat] { score: 3 }
                    })pb"),
                  kPbHeaders);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->reason, Reason::kBadProtobuf);
  EXPECT_THAT(r->message, HasSubstr("kamwatch.events.v1.SalesOrder"));

  r = decode(pb_event("sales.order", R"pb(
               proto_data { type_url: "type.googleapis.com/acme.Order" value: "\x08\x01" })pb"),
             kPbHeaders);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->reason, Reason::kBadProtobuf);
  EXPECT_THAT(r->message, HasSubstr("acme.Order"));

  r = decode(pb_event("sales.order", R"pb(
               proto_data {
                 type_url: "type.googleapis.com/kamwatch.events.v1.SalesOrder"
                 value: "\xff"
               })pb"),
             kPbHeaders);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->reason, Reason::kBadProtobuf);

  r = decode(cloud_event_pb(R"pb(id: "1"
                                 source: "crm"
                                 spec_version: "1.0"
                                 type: "x"
                                 attributes {
                                   key: "time"
                                   value { ce_timestamp { seconds: 1772442900 } }
                                 })pb"),
             kPbHeaders);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->reason, Reason::kMissingAttribute);
  EXPECT_THAT(r->message, HasSubstr("'subject'"));

  r = decode(cloud_event_pb(R"pb(id: "1"
                                 source: "crm"
                                 spec_version: "1.0"
                                 type: "x"
                                 attributes {
                                   key: "time"
                                   value { ce_integer: 5 }
                                 }
                                 attributes {
                                   key: "subject"
                                   value { ce_string: "A" }
                                 })pb"),
             kPbHeaders);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->reason, Reason::kBadAttribute);
  EXPECT_THAT(r->message, HasSubstr("'time'"));

  // Corrupting any byte of a valid event never crashes.
  const std::string good = pb_event("sales.order", R"pb(
    proto_data {
      [type.googleapis.com/kamwatch.events.v1.SalesOrder] { amount: 5 }
    })pb");
  for (std::size_t i = 0; i < good.size(); ++i) {
    for (const char c : {'\0', '\x01', '\x7f', '\x80', '\xff'}) {
      std::string bad = good;
      bad[i] = c;
      (void)decode(bad, kPbHeaders);
    }
  }
  ASSERT_FALSE(decode(good, kPbHeaders));

  EXPECT_EQ(decode(pb_event("sales.order", R"pb(text_data: "[1]")pb"), kPbHeaders)->reason,
            Reason::kDataNotObject);
  EXPECT_EQ(decode(pb_event("sales.order", R"pb(text_data: "{\"amount\":")pb"), kPbHeaders)->reason,
            Reason::kInvalidJson);
}

}  // namespace
}  // namespace kamwatch::ingest
