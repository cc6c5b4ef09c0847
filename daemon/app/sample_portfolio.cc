#include "app/sample_portfolio.h"

#include <cmath>
#include <random>

#include "core/clock.h"
#include "core/json_writer.h"

namespace kamwatch::app {
namespace {

constexpr const char* kIndustries[] = {"manufacturing", "retail", "logistics", "energy", "health"};
constexpr const char* kCategories[] = {"sensors", "gateways", "analytics", "services"};
constexpr const char* kKams[] = {"ana.silva@example.com", "ben.okafor@example.com",
                                 "chen.li@example.com", "dora.berg@example.com"};

std::string event(const std::string& id, const std::string& type, TimeMs t,
                  const std::string& account, const std::string& data_json) {
  JsonWriter w;
  w.begin_object()
      .field("specversion", "1.0")
      .field("id", id)
      .field("source", "demo")
      .field("type", type)
      .field("time", format_rfc3339(t))
      .field("subject", account)
      .key("data")
      .raw(data_json)
      .end_object();
  return w.take();
}

}  // namespace

std::vector<SampleMessage> sample_portfolio(const SampleOptions& o) {
  std::mt19937_64 rng(o.seed);
  std::uniform_real_distribution<double> u(0, 1);
  const TimeMs end = floor_to(o.end ? o.end : SystemClock().now(), kDayMs);
  const TimeMs start = end - static_cast<TimeMs>(o.days) * kDayMs;
  std::vector<SampleMessage> out;
  std::uint64_t seq = 0;
  auto next_id = [&] { return "demo-" + std::to_string(++seq); };

  for (int a = 0; a < o.accounts; ++a) {
    char idbuf[32];
    std::snprintf(idbuf, sizeof idbuf, "ACME-%04d", a + 1);
    const std::string acct = idbuf;
    // Pareto-ish: annual value falls off as a power of the rank.
    const double value = 2'000'000.0 / std::pow(a + 1, 1.2);
    const int seats = 20 + static_cast<int>(value / 10000);
    const bool declining = a % 7 == 3;  // a few accounts slide toward churn
    {
      JsonWriter d;
      d.begin_object()
          .field("name", "Acme " + std::to_string(a + 1) + " GmbH")
          .field("kam", kKams[a % 4])
          .field("industry", kIndustries[a % 5])
          .field("region", a % 2 ? "EMEA" : "NA")
          .field("contract_value", std::round(value))
          .field("renewal_date", format_rfc3339(end + (30 + a * 11 % 300) * kDayMs).substr(0, 10))
          .end_object();
      out.push_back({acct, event(next_id(), "account.profile", start, acct, d.str())});
    }
    for (int day = 0; day < o.days; ++day) {
      const TimeMs t = start + day * kDayMs + 9 * kHourMs;
      const double decay =
          declining && day > o.days / 2 ? 1.0 - 0.6 * (day - o.days / 2.0) / o.days : 1.0;
      const double weekday = (day % 7) < 5 ? 1.0 : 0.3;
      const int active = static_cast<int>(seats * 0.7 * weekday * decay * (0.9 + 0.2 * u(rng)));
      JsonWriter d;
      d.begin_object().field("active_users", active).field("sessions", active * 3).end_object();
      out.push_back({acct, event(next_id(), "usage.activity", t, acct, d.str())});
      if (u(rng) < value / 4'000'000.0 + 0.02) {
        JsonWriter o2;
        o2.begin_object()
            .field("amount", std::round(value / 40 * (0.5 + u(rng))))
            .field("currency", "EUR")
            .field("category", kCategories[static_cast<int>(u(rng) * 4) % 4])
            .end_object();
        out.push_back({acct, event(next_id(), "sales.order", t + kHourMs, acct, o2.str())});
      }
      if (u(rng) < (declining && day > o.days / 2 ? 0.25 : 0.05)) {
        JsonWriter tk;
        tk.begin_object()
            .field("ticket_id", "T-" + std::to_string(seq))
            .field("action", "opened")
            .field("severity", 1 + static_cast<int>(u(rng) * 4) % 4)
            .field("category", "integration")
            .end_object();
        out.push_back({acct, event(next_id(), "support.ticket", t + 2 * kHourMs, acct, tk.str())});
      }
      if (day % 30 == 10) {
        JsonWriter m;
        m.begin_object().field("kind", "qbr").field("level", "exec").end_object();
        out.push_back(
            {acct, event(next_id(), "relationship.meeting", t + 5 * kHourMs, acct, m.str())});
      }
    }
  }
  // A few broken events, as real producers sometimes send.
  static const char* kBroken[] = {
      R"({"specversion":"1.0","id":"bad-1","source":"demo","type":"sales.order","time":"2026-01-01T00:00:00Z","subject":"ACME-0001","data":{"amount":"lots"}})",
      R"({"specversion":"1.0","id":"bad-2","source":"demo","type":"usage.activity","time":"yesterday","subject":"ACME-0002","data":{"active_users":5}})",
      R"({"specversion":"1.0","id":"bad-3","source":"demo","type":"support.ticket","subject":"ACME-0003","data":{}})",
      R"({"specversion":"1.0","id":"bad-4","source":"demo","type":"sales.order","time":"2026-01-01T00:00:00Z","subject":"ACME-0004","data":{"amount":12)",
      R"({"specversion":"1.0","id":"bad-5","source":"demo","type":"survey.nps","time":"2026-01-01T00:00:00Z","subject":"ACME-0005","data":[7]})",
  };
  for (int i = 0; i < o.malformed && i < 5; ++i) {
    const std::size_t at = (out.size() * (i + 1)) / 6;
    out.insert(out.begin() + static_cast<long>(at),
               SampleMessage{"ACME-000" + std::to_string(i + 1), kBroken[i], false});
  }
  return out;
}

}  // namespace kamwatch::app
