#include "rules/reader.h"

#include <cctype>
#include <charconv>
#include <cmath>
#include <initializer_list>
#include <string_view>

namespace kamwatch::rules::detail {
namespace {

using config::YamlNode;

class Reader {
 public:
  Reader(std::shared_ptr<const std::string> file, const config::YamlDocument& doc,
         Diagnostics& diags)
      : file_(std::move(file)), doc_(doc), diags_(diags) {}

  FileInfo read() {
    FileInfo info;
    info.name = *file_;
    const YamlNode& root = doc_.root();
    if (root.is_null()) return info;  // an empty file is an empty rule set
    if (!root.is_map()) {
      error(root,
            "a rule file is a mapping with the keys derived, scorecard, alerts, custom_types");
      return info;
    }
    check_keys(root, {"derived", "scorecard", "alerts", "custom_types"}, "at the top level");
    if (const YamlNode* n = root.find("custom_types")) read_custom_types(*n, info);
    if (const YamlNode* n = root.find("derived")) read_derived(*n, info);
    if (const YamlNode* n = root.find("scorecard")) read_scorecard(*n, info);
    if (const YamlNode* n = root.find("alerts")) read_alerts(*n, info);
    return info;
  }

 private:
  SourcePos pos(const YamlNode& n) const { return {*file_, n.pos.line, n.pos.col}; }
  void error(const YamlNode& n, std::string message) { diags_.error(pos(n), std::move(message)); }
  SourcePos key_pos(const YamlNode& map, std::string_view key) const {
    for (const YamlNode& k : map.keys)
      if (k.is_scalar() && k.text == key) return pos(k);
    return pos(map);
  }

  Located located(const YamlNode& n) const {
    Located l;
    l.text = n.text;
    l.file = file_;
    l.doc = &doc_;
    l.node = &n;
    return l;
  }

  void check_keys(const YamlNode& map, std::initializer_list<std::string_view> known,
                  const std::string& where) {
    for (const YamlNode& key : map.keys) {
      if (!key.is_scalar()) {
        error(key, "keys must be plain names");
        continue;
      }
      bool ok = false;
      std::string list;
      std::vector<std::string> names;
      for (std::string_view k : known) {
        ok |= key.text == k;
        list += (list.empty() ? "" : ", ") + std::string(k);
        names.emplace_back(k);
      }
      if (!ok)
        error(key, "unknown key '" + key.text + "' " + where + did_you_mean(key.text, names) +
                       "; known keys: " + list);
    }
  }

  bool expect_map(const YamlNode& n, const std::string& what) {
    if (n.is_map()) return true;
    error(n, what + " must be a mapping (key: value)");
    return false;
  }
  bool expect_seq(const YamlNode& n, const std::string& what) {
    if (n.is_seq()) return true;
    error(n, what + " must be a list (- item)");
    return false;
  }

  // A scalar's text; reports and returns nullopt for maps, lists and empty values.
  std::optional<std::string> scalar(const YamlNode& n, const std::string& key) {
    if (n.is_scalar() && !n.text.empty()) return n.text;
    if (n.is_null() || (n.is_scalar() && n.text.empty()))
      error(n, "'" + key + "' needs a value");
    else
      error(n, "'" + key + "' must be a single value, not a " + (n.is_map() ? "mapping" : "list"));
    return std::nullopt;
  }

  std::optional<Located> text(const YamlNode& n, const std::string& key) {
    if (!scalar(n, key)) return std::nullopt;
    return located(n);
  }

  std::optional<double> number(const YamlNode& n, const std::string& key) {
    auto s = scalar(n, key);
    if (!s) return std::nullopt;
    double v = 0;
    const auto r = std::from_chars(s->data(), s->data() + s->size(), v);
    if (r.ec != std::errc() || r.ptr != s->data() + s->size() || !std::isfinite(v)) {
      error(n, "'" + key + "' must be a number, got '" + *s + "'");
      return std::nullopt;
    }
    return v;
  }

  std::optional<TimeMs> duration(const YamlNode& n, const std::string& key, bool allow_zero) {
    auto s = scalar(n, key);
    if (!s) return std::nullopt;
    auto d = *s == "0" ? std::optional<TimeMs>(0) : parse_duration(*s);
    if (!d) {
      error(n, "'" + key + "' must be a duration such as 30m, 36h, 14d, 2w, got '" + *s + "'");
      return std::nullopt;
    }
    if (*d == 0 && !allow_zero) {
      error(n, "'" + key + "' must be longer than 0");
      return std::nullopt;
    }
    return d;
  }

  // A name for a derived value, measure or evidence entry: usable as an identifier.
  bool valid_name(const YamlNode& n, const std::string& what) {
    if (!is_identifier(n.text)) {
      error(n, what + " name '" + n.text +
                   "' must start with a letter and use only letters, digits and '_'");
      return false;
    }
    if (is_reserved_name(n.text)) {
      error(n, what + " name '" + n.text + "' is a reserved word or function name");
      return false;
    }
    return true;
  }

  void read_custom_types(const YamlNode& n, FileInfo& info) {
    if (!expect_seq(n, "'custom_types'")) return;
    for (const YamlNode& item : n.children) {
      auto s = scalar(item, "custom_types");
      if (!s) continue;
      bool ok = s->find('.') != std::string::npos && s->front() != '.' && s->back() != '.';
      std::size_t start = 0;
      while (ok && start <= s->size()) {
        const std::size_t dot = s->find('.', start);
        const std::string seg = s->substr(start, dot == std::string::npos ? dot : dot - start);
        ok = is_identifier(seg);
        if (dot == std::string::npos) break;
        start = dot + 1;
      }
      if (!ok) {
        error(item, "custom type '" + *s +
                        "' must be dotted names such as crm.note (letters, digits, '_')");
        continue;
      }
      info.custom_types.emplace_back(*s, pos(item));
    }
  }

  void read_derived(const YamlNode& n, FileInfo& info) {
    if (!expect_seq(n, "'derived'")) return;
    for (const YamlNode& item : n.children) {
      if (!expect_map(item, "each derived value")) continue;
      check_keys(item, {"name", "expr", "description"}, "in a derived value");
      const YamlNode* name = item.find("name");
      const YamlNode* expr = item.find("expr");
      if (!name) {
        error(item, "a derived value needs a 'name'");
        continue;
      }
      if (!scalar(*name, "name") || !valid_name(*name, "derived")) continue;
      if (!expr) {
        error(item, "derived value '" + name->text + "' needs an 'expr'");
        continue;
      }
      auto e = text(*expr, "expr");
      if (!e) continue;
      info.derived.push_back({name->text, pos(*name), std::move(*e)});
    }
  }

  void read_scorecard(const YamlNode& n, FileInfo& info) {
    if (!expect_map(n, "'scorecard'")) return;
    check_keys(n, {"bands", "trend", "measures"}, "in the scorecard");
    ScorecardInfo sc;
    sc.pos = pos(n);
    if (const YamlNode* b = n.find("bands"); b && expect_map(*b, "'bands'")) {
      check_keys(*b, {"red", "yellow"}, "in bands");
      sc.bands_pos = pos(*b);
      const YamlNode* red = b->find("red");
      const YamlNode* yellow = b->find("yellow");
      if (!red || !yellow) {
        error(*b, "bands need both 'red' and 'yellow' thresholds, e.g. {red: 50, yellow: 75}");
      } else {
        auto r = number(*red, "red");
        auto y = number(*yellow, "yellow");
        if (r && y) {
          if (*r < 0 || *y > 100 || *r > *y)
            error(*b, "bands must satisfy 0 <= red <= yellow <= 100");
          else
            sc.bands = std::make_pair(*r, *y);
        }
      }
    }
    if (const YamlNode* t = n.find("trend"); t && expect_map(*t, "'trend'")) {
      check_keys(*t, {"window", "step"}, "in trend");
      sc.trend_pos = pos(*t);
      const YamlNode* window = t->find("window");
      const YamlNode* step = t->find("step");
      if (!window || !step) {
        error(*t, "trend needs 'window' and 'step', e.g. {window: 8w, step: 1w}");
      } else {
        auto w = duration(*window, "window", false);
        auto s = duration(*step, "step", false);
        if (w && s) {
          if (*w % *s != 0 || *w / *s < 1 || *w / *s > 520)
            error(*window, "the trend window must be 1 to 520 whole steps");
          else
            sc.trend = std::make_pair(*w, *s);
        }
      }
    }
    if (const YamlNode* m = n.find("measures"); m && expect_seq(*m, "'measures'")) {
      for (const YamlNode& item : m->children) read_measure(item, sc);
    }
    info.scorecard = std::move(sc);
  }

  void read_measure(const YamlNode& item, ScorecardInfo& sc) {
    if (!expect_map(item, "each measure")) return;
    check_keys(item, {"name", "weight", "expr", "map", "missing", "description"}, "in a measure");
    const YamlNode* name = item.find("name");
    if (!name) {
      error(item, "a measure needs a 'name'");
      return;
    }
    if (!scalar(*name, "name") || !valid_name(*name, "measure")) return;
    MeasureInfo m;
    m.name = name->text;
    m.pos = pos(*name);
    bool ok = true;
    const YamlNode* weight = item.find("weight");
    if (!weight) {
      error(item, "measure '" + m.name + "' needs a 'weight'");
      ok = false;
    } else if (auto w = number(*weight, "weight")) {
      if (*w <= 0) {
        error(*weight, "'weight' must be greater than 0");
        ok = false;
      }
      m.weight = *w;
    } else {
      ok = false;
    }
    const YamlNode* expr = item.find("expr");
    if (!expr) {
      error(item, "measure '" + m.name + "' needs an 'expr'");
      ok = false;
    } else if (auto e = text(*expr, "expr")) {
      m.expr = std::move(*e);
    } else {
      ok = false;
    }
    if (const YamlNode* map = item.find("map")) {
      m.map_pos = pos(*map);
      ok &= read_map(*map, m);
    }
    if (const YamlNode* missing = item.find("missing")) {
      auto v = number(*missing, "missing");
      if (v && (*v < 0 || *v > 100)) {
        error(*missing, "'missing' is a score from 0 to 100");
        v.reset();
      }
      ok &= v.has_value();
      m.missing = v;
    }
    if (ok) sc.measures.push_back(std::move(m));
  }

  bool read_map(const YamlNode& map, MeasureInfo& m) {
    const std::string usage =
        "'map' is a list of [value, score] points, e.g. [[0.5, 0], [1.0, 100]]";
    if (!map.is_seq() || map.children.size() < 2) {
      error(map, usage + " with at least two points");
      return false;
    }
    for (const YamlNode& point : map.children) {
      if (!point.is_seq() || point.children.size() != 2) {
        error(point, usage);
        return false;
      }
      // Values are numbers, or durations for a measure that is a duration (since(...)).
      const YamlNode& xn = point.children[0];
      std::optional<double> x;
      const std::optional<TimeMs> d =
          xn.is_scalar() && !xn.text.empty() &&
                  !std::isdigit(static_cast<unsigned char>(xn.text.back()))
              ? parse_duration(xn.text)
              : std::nullopt;
      if (d) {
        x = static_cast<double>(*d);
      } else {
        x = number(xn, "map value");
        if (!x) return false;
      }
      if (&point != &map.children.front() && d.has_value() != m.map_durations) {
        error(xn, "map values must be all numbers or all durations");
        return false;
      }
      m.map_durations = d.has_value();
      auto y = number(point.children[1], "map score");
      if (!y) return false;
      if (*y < 0 || *y > 100) {
        error(point.children[1], "a map score must be from 0 to 100");
        return false;
      }
      if (!m.map.empty() && *x <= m.map.back().first) {
        error(point.children[0], "map values must increase from one point to the next");
        return false;
      }
      m.map.emplace_back(*x, *y);
    }
    return true;
  }

  void read_named_texts(const YamlNode& n, const std::string& key, std::vector<NamedText>& out,
                        bool names_are_identifiers) {
    if (!expect_map(n, "'" + key + "'")) return;
    for (std::size_t i = 0; i < n.keys.size(); ++i) {
      const YamlNode& k = n.keys[i];
      const YamlNode& v = n.children[i];
      if (!k.is_scalar()) {
        error(k, "keys must be plain names");
        continue;
      }
      if (names_are_identifiers && !valid_name(k, key)) continue;
      if (!names_are_identifiers && !is_identifier(k.text)) {
        error(k, "annotation name '" + k.text + "' must use only letters, digits and '_'");
        continue;
      }
      auto t = text(v, k.text);
      if (!t) continue;
      out.push_back({k.text, pos(k), std::move(*t)});
    }
  }

  void read_alerts(const YamlNode& n, FileInfo& info) {
    if (!expect_seq(n, "'alerts'")) return;
    for (const YamlNode& item : n.children) {
      if (!expect_map(item, "each alert")) continue;
      check_keys(
          item,
          {"alert", "expr", "for", "resolve", "keep_firing_for", "min_history", "by", "severity",
           "labels", "evidence", "summary", "description", "playbook", "annotations"},
          "in an alert");
      const YamlNode* name = item.find("alert");
      if (!name) {
        error(item, "an alert needs a name: 'alert: SomeName'");
        continue;
      }
      if (!scalar(*name, "alert")) continue;
      AlertInfo a;
      a.name = name->text;
      a.pos = pos(*name);
      if (!is_identifier(a.name)) {
        error(*name, "alert name '" + a.name +
                         "' must start with a letter and use only letters, digits and '_'");
        continue;
      }
      if (const YamlNode* e = item.find("expr")) {
        a.expr = text(*e, "expr");
      } else {
        error(*name, "alert '" + a.name + "' needs an 'expr' (the condition)");
      }
      if (const YamlNode* e = item.find("resolve")) a.resolve = text(*e, "resolve");
      if (const YamlNode* e = item.find("for")) a.hold = duration(*e, "for", true).value_or(0);
      if (const YamlNode* e = item.find("keep_firing_for"))
        a.keep_firing_for = duration(*e, "keep_firing_for", true).value_or(0);
      if (const YamlNode* e = item.find("min_history"))
        a.min_history = duration(*e, "min_history", true).value_or(0);
      if (const YamlNode* e = item.find("by")) {
        if (auto s = scalar(*e, "by")) {
          if (!is_identifier(*s)) {
            error(*e, "'by' names one event field, e.g. 'by: category'");
          } else {
            a.by = *s;
            a.by_pos = pos(*e);
          }
        }
      }
      if (const YamlNode* e = item.find("severity")) a.severity = text(*e, "severity");
      if (const YamlNode* l = item.find("labels"); l && expect_map(*l, "'labels'")) {
        for (std::size_t i = 0; i < l->keys.size(); ++i) {
          const YamlNode& k = l->keys[i];
          const YamlNode& v = l->children[i];
          if (!k.is_scalar() || !is_identifier(k.text)) {
            error(k, "label name '" + k.text + "' must use only letters, digits and '_'");
            continue;
          }
          if (k.text == "severity" || k.text == "alertname" || k.text == "account") {
            error(k, "label '" + k.text + "' is set by kamwatch" +
                         (k.text == "severity" ? std::string("; use the 'severity' key") : ""));
            continue;
          }
          auto s = scalar(v, k.text);
          if (!s) continue;
          a.labels.push_back({k.text, *s, pos(k), pos(v)});
        }
      }
      if (const YamlNode* e = item.find("evidence"))
        read_named_texts(*e, "evidence", a.evidence, true);
      for (const char* key : {"summary", "description", "playbook"}) {
        if (const YamlNode* e = item.find(key)) {
          if (auto t = text(*e, key)) a.annotations.push_back({key, key_pos(item, key), *t});
        }
      }
      if (const YamlNode* e = item.find("annotations")) {
        std::vector<NamedText> extra;
        read_named_texts(*e, "annotations", extra, false);
        for (NamedText& t : extra) {
          if (t.name == "summary" || t.name == "description" || t.name == "playbook" ||
              t.name == "evidence") {
            diags_.error(t.pos, "annotation '" + t.name + "' has its own key in the alert" +
                                    (t.name == "evidence" ? " (evidence: {name: expr})" : ""));
            continue;
          }
          a.annotations.push_back(std::move(t));
        }
      }
      info.alerts.push_back(std::move(a));
    }
  }

  std::shared_ptr<const std::string> file_;
  const config::YamlDocument& doc_;
  Diagnostics& diags_;
};

}  // namespace

FileInfo read_rule_file(std::shared_ptr<const std::string> name, const config::YamlDocument& doc,
                        Diagnostics& diags) {
  return Reader(std::move(name), doc, diags).read();
}

}  // namespace kamwatch::rules::detail
