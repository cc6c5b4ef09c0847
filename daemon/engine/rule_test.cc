#include "engine/rule_test.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "config/yaml_tree.h"
#include "engine/replay.h"

namespace kamwatch::engine {
namespace {

using config::YamlNode;

struct Failure {
  int line = 0;
  int col = 0;
  std::string message;
};

struct ExpectedAlert {
  std::string account;
  std::string group;
  bool group_given = false;
  std::map<std::string, std::string> labels;
};

struct Expectation {
  int line = 0;
  TimeMs at = 0;
  std::string alert;
  std::vector<ExpectedAlert> firing;
};

struct TestCase {
  std::string name;
  int line = 0;
  // Portfolio figures fixed by the test (key account, revenue rank, CLV, P(alive)): the
  // runner does not fit a portfolio model, as promtool tests give external series as input.
  std::map<std::string, rules::AccountAttributes> attributes;
  std::vector<model::Event> events;
  std::vector<Expectation> expect;
};

std::optional<TimeMs> parse_time(const std::string& s) {
  if (auto t = parse_rfc3339(s)) return t;
  return parse_date(s);
}

model::FieldValue scalar_value(const YamlNode& n) {
  if (n.is_null()) return model::FieldValue::null();
  if (!n.quoted()) {
    if (n.text == "true") return model::FieldValue::of_bool(true);
    if (n.text == "false") return model::FieldValue::of_bool(false);
    char* end = nullptr;
    const double d = std::strtod(n.text.c_str(), &end);
    if (!n.text.empty() && end == n.text.c_str() + n.text.size())
      return model::FieldValue::of_number(d);
  }
  return model::FieldValue::of_string(n.text);
}

class Reader {
 public:
  explicit Reader(std::vector<Failure>& failures) : failures_(failures) {}

  void fail(const YamlNode& n, std::string msg) {
    failures_.push_back({n.pos.line, n.pos.col, std::move(msg)});
  }

  const YamlNode* need(const YamlNode& map, const char* key, const char* where) {
    const YamlNode* v = map.find(key);
    if (!v) fail(map, std::string(where) + " needs '" + key + "'");
    return v;
  }

  std::optional<TimeMs> time(const YamlNode& n) {
    auto t = n.is_scalar() ? parse_time(n.text) : std::nullopt;
    if (!t) fail(n, "'" + n.text + "' is not a date (YYYY-MM-DD) or RFC 3339 time");
    return t;
  }

  void check_keys(const YamlNode& map, std::initializer_list<const char*> allowed,
                  const char* where) {
    for (const YamlNode& k : map.keys) {
      if (std::none_of(allowed.begin(), allowed.end(), [&](const char* a) { return k.text == a; }))
        fail(k, "unknown key '" + k.text + "' in " + where);
    }
  }

  // One event from a map: type, subject/account, time, optional id/source, data.
  std::optional<model::Event> event(const YamlNode& n, TimeMs t) {
    model::Event e;
    const YamlNode* type = need(n, "type", "an event");
    const YamlNode* subject = n.find("subject") ? n.find("subject") : n.find("account");
    if (!subject) fail(n, "an event needs 'subject' (the account)");
    if (!type || !subject) return std::nullopt;
    e.type = type->text;
    e.subject = subject->text;
    e.time = t;
    e.source = n.find("source") ? n.find("source")->text : "rule-test";
    if (const YamlNode* id = n.find("id")) e.id = id->text;
    if (const YamlNode* data = n.find("data")) {
      if (!data->is_map()) {
        fail(*data, "'data' must be a mapping");
        return std::nullopt;
      }
      for (std::size_t i = 0; i < data->keys.size(); ++i)
        e.data.push_back({data->keys[i].text, scalar_value(data->children[i])});
    }
    return e;
  }

 private:
  std::vector<Failure>& failures_;
};

std::vector<TestCase> read_cases(const YamlNode& root, Reader& r) {
  std::vector<TestCase> cases;
  const YamlNode* tests = root.find("tests");
  if (!tests || !tests->is_seq()) {
    r.fail(root, "the file needs a 'tests' list");
    return cases;
  }
  for (const YamlNode& t : tests->children) {
    if (!t.is_map()) {
      r.fail(t, "each test must be a mapping");
      continue;
    }
    r.check_keys(t, {"name", "events", "series", "attributes", "expect"}, "a test");
    TestCase tc;
    tc.line = t.pos.line;
    tc.name = t.find("name") ? t.find("name")->text : "test at line " + std::to_string(t.pos.line);
    if (const YamlNode* attrs = t.find("attributes")) {
      for (std::size_t i = 0; i < attrs->keys.size(); ++i) {
        const YamlNode& a = attrs->children[i];
        r.check_keys(a, {"key", "revenue_rank", "clv", "p_alive", "expected_purchases"},
                     "account attributes");
        rules::AccountAttributes& out = tc.attributes[attrs->keys[i].text];
        for (std::size_t j = 0; j < a.keys.size(); ++j) {
          const std::string& k = a.keys[j].text;
          const model::FieldValue v = scalar_value(a.children[j]);
          if (k == "key") {
            if (v.kind != model::FieldValue::Kind::kBool)
              r.fail(a.children[j], "'key' must be true or false");
            out.key_account = v.boolean;
            continue;
          }
          if (!v.is_number()) {
            r.fail(a.children[j], "'" + k + "' must be a number");
            continue;
          }
          if (k == "revenue_rank") out.revenue_rank = static_cast<int>(v.number);
          if (k == "clv") out.clv = v.number;
          if (k == "p_alive") out.p_alive = v.number;
          if (k == "expected_purchases") out.expected_purchases = v.number;
        }
      }
    }
    std::uint64_t seq = 0;
    if (const YamlNode* evs = t.find("events")) {
      for (const YamlNode& e : evs->children) {
        r.check_keys(e, {"type", "subject", "account", "time", "id", "source", "data"}, "an event");
        const YamlNode* tm = r.need(e, "time", "an event");
        auto when = tm ? r.time(*tm) : std::nullopt;
        if (!when) continue;
        if (auto ev = r.event(e, *when)) {
          if (ev->id.empty()) ev->id = "e" + std::to_string(++seq);
          tc.events.push_back(std::move(*ev));
        }
      }
    }
    if (const YamlNode* series = t.find("series")) {
      for (const YamlNode& s : series->children) {
        r.check_keys(s, {"type", "subject", "account", "from", "to", "every", "data", "source"},
                     "a series");
        const YamlNode* from = r.need(s, "from", "a series");
        const YamlNode* to = r.need(s, "to", "a series");
        const YamlNode* every = r.need(s, "every", "a series");
        if (!from || !to || !every) continue;
        auto f = r.time(*from);
        auto u = r.time(*to);
        auto step = parse_duration(every->text);
        if (!step || *step <= 0) r.fail(*every, "'every' must be a duration such as 1d");
        if (!f || !u || !step || *step <= 0) continue;
        if ((*u - *f) / *step > 100000) {
          r.fail(s, "series would generate more than 100000 events");
          continue;
        }
        for (TimeMs tt = *f; tt < *u; tt += *step) {
          if (auto ev = r.event(s, tt)) {
            ev->id = "s" + std::to_string(++seq);
            tc.events.push_back(std::move(*ev));
          }
        }
      }
    }
    if (const YamlNode* expect = t.find("expect")) {
      for (const YamlNode& x : expect->children) {
        r.check_keys(x, {"at", "alert", "firing"}, "an expectation");
        Expectation ex;
        ex.line = x.pos.line;
        const YamlNode* at = r.need(x, "at", "an expectation");
        const YamlNode* alert = r.need(x, "alert", "an expectation");
        const YamlNode* firing = r.need(x, "firing", "an expectation");
        if (!at || !alert || !firing) continue;
        auto when = r.time(*at);
        if (!when) continue;
        ex.at = *when;
        ex.alert = alert->text;
        for (const YamlNode& f : firing->children) {
          r.check_keys(f, {"account", "group", "labels"}, "an expected alert");
          ExpectedAlert ea;
          if (const YamlNode* a = r.need(f, "account", "an expected alert")) ea.account = a->text;
          if (const YamlNode* g = f.find("group")) {
            ea.group = g->text;
            ea.group_given = true;
          }
          if (const YamlNode* l = f.find("labels"))
            for (std::size_t i = 0; i < l->keys.size(); ++i)
              ea.labels[l->keys[i].text] = l->children[i].text;
          ex.firing.push_back(std::move(ea));
        }
        tc.expect.push_back(std::move(ex));
      }
    } else {
      r.fail(t, "test '" + tc.name + "' has no 'expect'");
    }
    std::stable_sort(tc.events.begin(), tc.events.end(),
                     [](const model::Event& a, const model::Event& b) { return a.time < b.time; });
    std::stable_sort(tc.expect.begin(), tc.expect.end(),
                     [](const Expectation& a, const Expectation& b) { return a.at < b.at; });
    cases.push_back(std::move(tc));
  }
  return cases;
}

std::string describe(const std::string& account, const std::string& group,
                     const std::map<std::string, std::string>& labels) {
  std::string s = account;
  if (!group.empty()) s += " [" + group + "]";
  s += " {";
  bool first = true;
  for (const auto& [k, v] : labels) {
    if (k == "alertname" || k == "account") continue;
    s += (first ? "" : ", ") + k + "=" + v;
    first = false;
  }
  return s + "}";
}

// Checks one expectation against the firing states in the replayer; empty string = pass.
std::string check(const Replayer& replayer, const Expectation& ex) {
  struct Actual {
    std::string account, group;
    std::map<std::string, std::string> labels;
  };
  std::vector<Actual> actual;
  const std::string prefix = alert_key(ex.alert, "");
  for (const auto& [id, account] : replayer.accounts())
    for (auto it = account.alerts.lower_bound(prefix);
         it != account.alerts.end() && it->first.compare(0, prefix.size(), prefix) == 0; ++it)
      if (it->second.phase == model::AlertState::Phase::kFiring)
        actual.push_back({id, it->first.substr(prefix.size()), it->second.labels});
  std::vector<bool> matched(actual.size(), false);
  std::string problems;
  for (const ExpectedAlert& e : ex.firing) {
    bool found = false;
    for (std::size_t i = 0; i < actual.size() && !found; ++i) {
      if (matched[i] || actual[i].account != e.account) continue;
      if (e.group_given && actual[i].group != e.group) continue;
      bool labels_ok = true;
      for (const auto& [k, v] : e.labels) {
        auto it = actual[i].labels.find(k);
        labels_ok &= it != actual[i].labels.end() && it->second == v;
      }
      if (labels_ok) found = matched[i] = true;
    }
    if (!found) problems += "\n    expected firing: " + describe(e.account, e.group, e.labels);
  }
  for (std::size_t i = 0; i < actual.size(); ++i)
    if (!matched[i])
      problems += "\n    unexpected firing: " +
                  describe(actual[i].account, actual[i].group, actual[i].labels);
  if (problems.empty()) return {};
  std::string got = "\n    firing at that time:";
  if (actual.empty()) got += " none";
  for (const Actual& a : actual) got += "\n      " + describe(a.account, a.group, a.labels);
  return problems + got;
}

}  // namespace

RuleTestReport run_rule_tests(const std::string& path) {
  RuleTestReport report;
  std::ifstream in(path);
  if (!in) {
    report.failed = 1;
    report.lines.push_back("FAIL " + path + ": cannot open the file");
    return report;
  }
  std::stringstream ss;
  ss << in.rdbuf();
  auto parsed = config::parse_yaml(ss.str());
  if (parsed.error) {
    report.failed = 1;
    report.lines.push_back("FAIL " + path + ":" + std::to_string(parsed.error->pos.line) + ":" +
                           std::to_string(parsed.error->pos.col) + ": " + parsed.error->message);
    return report;
  }
  const YamlNode& root = parsed.doc.root();
  std::vector<Failure> failures;
  Reader r(failures);
  if (!root.is_map())
    r.fail(root, "a rule test file must be a mapping");
  else
    r.check_keys(root, {"rule_files", "tick", "tests"}, "the test file");

  // Rule files, relative to the test file; by default the *.yaml rule files beside it.
  const std::filesystem::path dir = std::filesystem::path(path).parent_path();
  std::vector<std::string> rule_paths;
  if (const YamlNode* rf = root.is_map() ? root.find("rule_files") : nullptr) {
    for (const YamlNode& f : rf->children) rule_paths.push_back((dir / f.text).string());
  } else {
    rule_paths.push_back(dir.empty() ? std::string(".") : dir.string());
  }
  ReplayOptions options;
  if (const YamlNode* tick = root.is_map() ? root.find("tick") : nullptr) {
    auto d = parse_duration(tick->text);
    if (!d || *d <= 0)
      r.fail(*tick, "'tick' must be a duration such as 1h or 1d");
    else
      options.tick = *d;
  }
  const std::vector<TestCase> cases = root.is_map() ? read_cases(root, r) : std::vector<TestCase>{};
  for (const Failure& f : failures) {
    report.failed += 1;
    report.lines.push_back("FAIL " + path + ":" + std::to_string(f.line) + ":" +
                           std::to_string(f.col) + ": " + f.message);
  }
  if (!failures.empty()) return report;

  auto loaded = rules::load_rules(rule_paths);
  if (!loaded.errors.empty()) {
    for (const auto& d : loaded.errors) report.lines.push_back("FAIL " + d.to_string());
    report.failed += 1;
    return report;
  }
  for (const TestCase& tc : cases) {
    AttributesFn fixed;
    if (!tc.attributes.empty())
      fixed = [attrs = tc.attributes](const std::map<std::string, model::AccountState>&, TimeMs) {
        return attrs;
      };
    Replayer replayer(loaded.rules, options, fixed);
    std::vector<AlertTransition> transitions;
    std::size_t next = 0;
    std::string failure;
    for (const Expectation& ex : tc.expect) {
      while (next < tc.events.size() && tc.events[next].time <= ex.at)
        replayer.feed(tc.events[next++], transitions);
      replayer.advance_to(ex.at, transitions);
      const bool known = std::any_of(loaded.rules->alerts().begin(), loaded.rules->alerts().end(),
                                     [&](const auto& rule) { return rule->name() == ex.alert; });
      if (!known) {
        failure +=
            "\n  line " + std::to_string(ex.line) + ": no alert rule named '" + ex.alert + "'";
        continue;
      }
      if (auto problem = check(replayer, ex); !problem.empty())
        failure += "\n  line " + std::to_string(ex.line) + ": at " + format_rfc3339(ex.at) + ", " +
                   ex.alert + ":" + problem;
    }
    if (failure.empty()) {
      ++report.passed;
      report.lines.push_back("PASS " + path + ": " + tc.name);
    } else {
      ++report.failed;
      report.lines.push_back("FAIL " + path + ":" + std::to_string(tc.line) + ": " + tc.name +
                             failure);
    }
  }
  return report;
}

}  // namespace kamwatch::engine
