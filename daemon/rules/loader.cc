// The staged loader: read (YAML -> info structs, per file) -> collect (merge files, check
// names across them) -> compile (expressions, templates, scorecard) -> an immutable RuleSet.
// Every problem is gathered with its position; a rule set is returned only when there are none.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "config/yaml_tree.h"
#include "ingest/catalog.h"
#include "rules/compiler.h"
#include "rules/reader.h"
#include "rules/rule_set.h"
#include "rules/rules.h"

namespace kamwatch::rules {
namespace {

using detail::AlertInfo;
using detail::AlertRule;
using detail::CompileContext;
using detail::Compiler;
using detail::Diagnostics;
using detail::FileInfo;
using detail::Located;
using detail::Names;
using detail::Type;

std::string where(const SourcePos& p) {
  return p.file + ":" + std::to_string(p.line) + ":" + std::to_string(p.col);
}

std::string fnv1a_hex(const std::vector<std::pair<std::string, std::string>>& files) {
  std::uint64_t h = 14695981039346656037ull;
  auto mix = [&](std::string_view s) {
    for (const char c : s) {
      h ^= static_cast<unsigned char>(c);
      h *= 1099511628211ull;
    }
    h ^= 0xff;  // separator: ("ab","c") and ("a","bc") hash differently
    h *= 1099511628211ull;
  };
  for (const auto& [name, text] : files) {
    mix(name);
    mix(text);
  }
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
  return buf;
}

// The value behind a verdict: the left operand of the condition's top comparison, looking
// through and/or/not (derived values are already inlined). -1 when there is none.
std::int32_t main_value(const detail::Program& p, std::int32_t n) {
  if (n < 0) return -1;
  const detail::Node& node = p.nodes[static_cast<std::size_t>(n)];
  using detail::Op;
  switch (node.op) {
    case Op::kLt:
    case Op::kLe:
    case Op::kGt:
    case Op::kGe:
    case Op::kEq:
    case Op::kNe: {
      const Type t = p.nodes[static_cast<std::size_t>(node.a)].type;
      if (t == Type::kNumber || t == Type::kDuration || t == Type::kAny) return node.a;
      return -1;
    }
    case Op::kAnd:
    case Op::kOr: {
      const std::int32_t left = main_value(p, node.a);
      return left >= 0 ? left : main_value(p, node.b);
    }
    case Op::kNot:
      return main_value(p, node.a);
    default:
      return -1;
  }
}

bool is_word(std::string_view s) {
  if (s.empty() || !std::isalpha(static_cast<unsigned char>(s[0]))) return false;
  for (char c : s)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-')) return false;
  return true;
}

// Splits "text {{ expr }} text" into parts, compiling each placeholder.
bool compile_template(const Located& text, Compiler& comp, Diagnostics& diags,
                      detail::Template& out) {
  const std::string& s = text.text;
  std::size_t i = 0;
  bool ok = true;
  while (i <= s.size()) {
    const std::size_t open = s.find("{{", i);
    if (open == std::string::npos) {
      if (i < s.size()) out.parts.push_back({s.substr(i), -1});
      break;
    }
    if (open > i) out.parts.push_back({s.substr(i, open - i), -1});
    const std::size_t close = s.find("}}", open + 2);
    if (close == std::string::npos) {
      diags.error(text.at(open), "unclosed '{{' in template: close the placeholder with '}}'");
      return false;
    }
    const Located inner = text.slice(open + 2, close - open - 2);
    if (inner.text.find_first_not_of(" \t\n") == std::string::npos) {
      diags.error(text.at(open), "empty placeholder '{{ }}' in template");
      ok = false;
    } else {
      const std::int32_t root = comp.compile_text(inner, std::nullopt, "placeholder");
      if (root < 0) ok = false;
      out.parts.push_back({{}, root});
    }
    i = close + 2;
  }
  return ok;
}

class Loader {
 public:
  LoadResult load(const std::vector<std::pair<std::string, std::string>>& files,
                  std::vector<Diagnostic> io_errors) {
    for (Diagnostic& d : io_errors) diags_.errors.push_back(std::move(d));
    read(files);
    collect();
    compile_derived();
    compile_scorecard();
    for (const AlertInfo* a : alerts_) compile_alert(*a);
    return finish(files);
  }

 private:
  // Stage 1: each file's YAML -> FileInfo.
  void read(const std::vector<std::pair<std::string, std::string>>& files) {
    for (const auto& [name, text] : files) {
      file_order_[name] = file_order_.size();
      auto file = std::make_shared<const std::string>(name);
      config::YamlParseResult parsed = config::parse_yaml(text);
      if (parsed.error) {
        diags_.error({name, parsed.error->pos.line, parsed.error->pos.col},
                     "YAML syntax error: " + parsed.error->message);
        continue;
      }
      docs_.push_back(std::make_unique<config::YamlDocument>(std::move(parsed.doc)));
      infos_.push_back(detail::read_rule_file(file, *docs_.back(), diags_));
    }
  }

  // Stage 2: merge the files; names must be unique across all of them.
  void collect() {
    std::map<std::string, SourcePos> derived_at;
    std::map<std::string, SourcePos> alert_at;
    std::map<std::string, SourcePos> measure_at;
    for (FileInfo& f : infos_) {
      for (auto& [type, pos] : f.custom_types) {
        if (ingest::find_event_type(type)) {
          diags_.error(pos, "'" + type +
                                "' is in the event catalog: only types outside it are declared "
                                "under custom_types");
          continue;
        }
        names_.custom_types.insert(type);
      }
      for (detail::DerivedInfo& d : f.derived) {
        auto [it, fresh] = derived_at.emplace(d.name, d.pos);
        if (!fresh) {
          diags_.error(d.pos, "duplicate derived value '" + d.name + "' (first defined at " +
                                  where(it->second) + ")");
          continue;
        }
        detail::DerivedDef def;
        def.name = d.name;
        def.pos = d.pos;
        def.expr = std::move(d.expr);
        names_.derived.push_back(std::move(def));
      }
      for (AlertInfo& a : f.alerts) {
        auto [it, fresh] = alert_at.emplace(a.name, a.pos);
        if (!fresh) {
          diags_.error(a.pos, "duplicate alert name '" + a.name + "' (first defined at " +
                                  where(it->second) + ")");
          continue;
        }
        alerts_.push_back(&a);
      }
      if (f.scorecard) {
        detail::ScorecardInfo& sc = *f.scorecard;
        if (!scorecard_) scorecard_.emplace();
        if (sc.bands) {
          if (bands_at_) {
            diags_.error(sc.bands_pos, "scorecard bands are already set at " + where(*bands_at_));
          } else {
            bands_at_ = sc.bands_pos;
            scorecard_->red = sc.bands->first;
            scorecard_->yellow = sc.bands->second;
          }
        }
        if (sc.trend) {
          if (trend_at_) {
            diags_.error(sc.trend_pos, "scorecard trend is already set at " + where(*trend_at_));
          } else {
            trend_at_ = sc.trend_pos;
            scorecard_->trend_window = sc.trend->first;
            scorecard_->trend_step = sc.trend->second;
          }
        }
        for (detail::MeasureInfo& m : sc.measures) {
          auto [it, fresh] = measure_at.emplace(m.name, m.pos);
          if (!fresh) {
            diags_.error(m.pos, "duplicate measure '" + m.name + "' (first defined at " +
                                    where(it->second) + ")");
            continue;
          }
          measures_.push_back(&m);
        }
      }
    }
  }

  // Stage 3a: derived values, in order; each may use those before it.
  void compile_derived() {
    for (std::size_t i = 0; i < names_.derived.size(); ++i) {
      detail::DerivedDef& d = names_.derived[i];
      detail::ParseResult parsed = detail::parse_expression(d.expr.text);
      if (!parsed.ok) {
        diags_.error(d.expr.at(parsed.error.offset), parsed.error.message);
        continue;
      }
      detail::Program scratch;
      CompileContext ctx;
      ctx.what = "derived " + d.name;
      ctx.allow_group = true;
      ctx.visible_derived = i;
      Compiler comp(scratch, names_, ctx, diags_);
      const std::int32_t root = comp.compile(parsed.ast, d.expr);
      if (root < 0) continue;
      d.type = comp.type_of(root);
      d.ast = std::move(parsed.ast);
      d.ok = true;
    }
  }

  // Stage 3b: the scorecard's measures.
  void compile_scorecard() {
    if (!scorecard_) return;
    CompileContext ctx;
    ctx.what = "scorecard";
    ctx.allow_health = false;
    ctx.visible_derived = names_.derived.size();
    Compiler comp(scorecard_->program, names_, ctx, diags_);
    for (const detail::MeasureInfo* m : measures_) {
      const std::int32_t root = comp.compile_text(m->expr, std::nullopt, "expr");
      if (root < 0) continue;
      const Type t = comp.type_of(root);
      if (t == Type::kDuration) {
        if (m->map.empty() || !m->map_durations) {
          diags_.error(m->map.empty() ? m->pos : m->map_pos,
                       "measure '" + m->name +
                           "' is a duration: map it with durations, e.g. map: [[30d, 100], "
                           "[180d, 0]]");
          continue;
        }
      } else if (t != Type::kNumber && t != Type::kAny) {
        diags_.error(m->expr.at(0), "measure '" + m->name + "' must be a number or a duration");
        continue;
      } else if (m->map_durations) {
        diags_.error(m->map_pos,
                     "measure '" + m->name + "' is a number, but its map values are durations");
        continue;
      }
      detail::Scorecard::Measure measure;
      measure.name = m->name;
      measure.weight = m->weight;
      measure.root = root;
      measure.map = m->map;
      measure.missing = m->missing;
      measure.duration = t == Type::kDuration;
      scorecard_->measures.push_back(std::move(measure));
    }
    add_specs(comp.specs);
    scorecard_->reads_types.assign(comp.types_read.begin(), comp.types_read.end());
  }

  // Stage 3c: one alert rule.
  void compile_alert(const AlertInfo& a) {
    auto rule = std::make_unique<AlertRule>();
    rule->name_ = a.name;
    rule->pos_ = a.pos;
    rule->hold_ = a.hold;
    rule->keep_firing_for_ = a.keep_firing_for;
    rule->min_history_ = a.min_history;
    rule->by_ = a.by;
    bool ok = true;
    auto check = [&ok](std::int32_t root) {
      ok &= root >= 0;
      return root;
    };

    CompileContext ctx;
    ctx.what = "alert " + a.name;
    ctx.by = a.by;
    ctx.allow_group = !a.by.empty();
    ctx.visible_derived = names_.derived.size();
    Compiler comp(rule->program_, names_, ctx, diags_);

    if (a.expr) {
      rule->condition_ = check(comp.compile_text(*a.expr, Type::kBool, "expr"));
      rule->value_ = main_value(rule->program_, rule->condition_);
    } else {
      ok = false;
    }
    if (a.resolve) rule->resolve_ = check(comp.compile_text(*a.resolve, Type::kBool, "resolve"));

    // Severity: a word (critical), an expression yielding a string, or a template.
    if (a.severity) {
      const std::string& s = a.severity->text;
      bool names_derived = false;
      for (const auto& d : names_.derived) names_derived |= d.name == s;
      if (s.find("{{") != std::string::npos) {
        detail::Template t;
        ok &= compile_template(*a.severity, comp, diags_, t);
        rule->severity_template_ = std::move(t);
      } else if (is_word(s) && !names_derived && s != "group") {
        rule->severity_text_ = s;
      } else {
        rule->severity_node_ = check(comp.compile_text(*a.severity, Type::kString, "severity"));
      }
    }
    // What decides the verdict: only events of these types can change it.
    std::set<std::string> reads = comp.types_read;
    const bool reads_health = comp.reads_health;

    // Labels.
    bool has_signal = false;
    for (const detail::LabelInfo& l : a.labels) {
      if (l.name == "signal") {
        has_signal = true;
        if (l.value != "churn" && l.value != "competitor" && l.value != "growth") {
          diags_.error(l.value_pos,
                       "label 'signal' must be churn, competitor or growth, got '" + l.value + "'");
          ok = false;
        }
        rule->signal_ = l.value;
      }
      if (!a.by.empty() && l.name == a.by) {
        diags_.error(l.pos, "label '" + l.name + "' is set to the group by 'by: " + a.by + "'");
        ok = false;
      }
      rule->labels_[l.name] = l.value;
    }
    if (!has_signal) {
      diags_.error(a.pos,
                   "alert '" + a.name +
                       "' needs a 'signal' label: labels: {signal: churn|competitor|growth}");
      ok = false;
    }

    // Evidence, then templates, which may name the evidence and `value`.
    std::vector<std::pair<std::string, Type>> slots;
    slots.emplace_back("value",
                       rule->value_ >= 0 ? rule->program_.nodes[rule->value_].type : Type::kNumber);
    for (const detail::NamedText& e : a.evidence) {
      // An evidence name may repeat a derived value's name (it then stands for the evidence
      // in templates), but not `value`.
      if (e.name == "value") {
        diags_.error(e.pos,
                     "evidence cannot be named 'value': in templates that is the "
                     "condition's main value");
        ok = false;
        continue;
      }
      const std::int32_t root = check(comp.compile_text(e.text, std::nullopt, "evidence"));
      if (root < 0) continue;
      const Type t = comp.type_of(root);
      if (t != Type::kNumber && t != Type::kDuration && t != Type::kAny) {
        diags_.error(e.text.at(0), "evidence '" + e.name + "' must be a number or a duration");
        ok = false;
        continue;
      }
      rule->evidence_.emplace_back(e.name, root);
      slots.emplace_back(e.name, t);
    }
    CompileContext tctx = ctx;
    tctx.slots = &slots;
    Compiler tcomp(rule->program_, names_, tctx, diags_);
    bool has_summary = false;
    for (const detail::NamedText& an : a.annotations) {
      detail::Template t;
      ok &= compile_template(an.text, tcomp, diags_, t);
      has_summary |= an.name == "summary";
      rule->annotations_.emplace_back(an.name, std::move(t));
    }
    if (!has_summary) {
      diags_.error(a.pos, "alert '" + a.name +
                              "' needs a 'summary': the reason in plain words, e.g. "
                              "\"Active users at {{ account.name }} down {{ pct(1 - value) }}\"");
      ok = false;
    }

    // Grouping: at least one selector must be split by the field.
    if (!a.by.empty() && ok && comp.grouped_keys.empty()) {
      std::string types;
      for (const std::string& t : reads)
        if (t != "account.profile") types += (types.empty() ? "" : ", ") + t;
      diags_.error(a.by_pos, "'by: " + a.by + "': none of the event types this rule reads (" +
                                 (types.empty() ? std::string("none") : types) +
                                 ") has the field '" + a.by + "'");
      ok = false;
    }
    if (!ok) return;

    add_specs(comp.specs);
    add_specs(tcomp.specs);
    rule->grouped_keys_.assign(comp.grouped_keys.begin(), comp.grouped_keys.end());
    if (reads_health && scorecard_)
      reads.insert(scorecard_->reads_types.begin(), scorecard_->reads_types.end());
    rule->reads_types_.assign(reads.begin(), reads.end());
    rules_.push_back(std::move(rule));
  }

  void add_specs(const std::vector<model::SeriesSpec>& specs) {
    specs_.insert(specs_.end(), specs.begin(), specs.end());
  }

  LoadResult finish(const std::vector<std::pair<std::string, std::string>>& files) {
    LoadResult out;
    out.errors = sorted(std::move(diags_.errors));
    out.warnings = sorted(std::move(diags_.warnings));
    if (!out.errors.empty()) return out;
    auto set = std::make_shared<detail::RuleSetImpl>();
    set->scorecard_ = std::move(scorecard_);
    for (auto& r : rules_) {
      r->scorecard_ = set->scorecard_ ? &*set->scorecard_ : nullptr;
      for (const std::string& t : r->reads_types_) set->by_type_[t].push_back(r.get());
      set->alerts_.push_back(std::move(r));
    }
    set->specs_ = model::SeriesSpecs(std::move(specs_));
    set->hash_ = fnv1a_hex(files);
    for (const auto& [name, text] : files) set->files_.push_back(name);
    out.rules = std::move(set);
    return out;
  }

  // File order, then line and column; exact duplicates (a derived value's problem seen from
  // several rules) once.
  std::vector<Diagnostic> sorted(std::vector<Diagnostic> d) const {
    auto order = [&](const Diagnostic& x) {
      auto it = file_order_.find(x.pos.file);
      return std::make_tuple(it == file_order_.end() ? 0 : it->second, x.pos.line, x.pos.col);
    };
    std::stable_sort(d.begin(), d.end(),
                     [&](const Diagnostic& x, const Diagnostic& y) { return order(x) < order(y); });
    std::vector<Diagnostic> out;
    for (Diagnostic& x : d) {
      bool dup = false;
      for (const Diagnostic& y : out)
        dup |= y.pos.file == x.pos.file && y.pos.line == x.pos.line && y.pos.col == x.pos.col &&
               y.message == x.message;
      if (!dup) out.push_back(std::move(x));
    }
    return out;
  }

  Diagnostics diags_;
  std::map<std::string, std::size_t> file_order_;
  std::vector<std::unique_ptr<config::YamlDocument>> docs_;
  std::vector<FileInfo> infos_;
  Names names_;
  std::vector<const AlertInfo*> alerts_;
  std::vector<const detail::MeasureInfo*> measures_;
  std::optional<detail::Scorecard> scorecard_;
  std::optional<SourcePos> bands_at_;
  std::optional<SourcePos> trend_at_;
  std::vector<std::unique_ptr<AlertRule>> rules_;
  std::vector<model::SeriesSpec> specs_;
};

bool is_rule_file(const std::filesystem::path& p) {
  const std::string name = p.filename().string();
  auto ends_with = [&](std::string_view s) {
    return name.size() >= s.size() && name.compare(name.size() - s.size(), s.size(), s) == 0;
  };
  if (ends_with("_test.yaml") || ends_with("_test.yml")) return false;
  return ends_with(".yaml") || ends_with(".yml");
}

}  // namespace

std::string Diagnostic::to_string() const {
  if (pos.line <= 0) return pos.file + ": " + message;
  return pos.file + ":" + std::to_string(pos.line) + ":" + std::to_string(pos.col) + ": " + message;
}

LoadResult load_rules_from_strings(const std::vector<std::pair<std::string, std::string>>& files) {
  return Loader().load(files, {});
}

LoadResult load_rules(const std::vector<std::string>& paths) {
  namespace fs = std::filesystem;
  std::vector<std::pair<std::string, std::string>> files;
  std::vector<Diagnostic> errors;
  auto read_file = [&](const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    if (!in) {
      errors.push_back({{p.string(), 0, 0}, "cannot read the file"});
      return;
    }
    std::ostringstream ss;
    ss << in.rdbuf();
    files.emplace_back(p.string(), ss.str());
  };
  for (const std::string& path : paths) {
    std::error_code ec;
    const fs::path p(path);
    if (fs::is_directory(p, ec)) {
      std::vector<fs::path> entries;
      for (fs::directory_iterator it(p, ec), end; !ec && it != end; it.increment(ec)) {
        std::error_code fec;
        if (it->is_regular_file(fec) && is_rule_file(it->path())) entries.push_back(it->path());
      }
      if (ec) errors.push_back({{path, 0, 0}, "cannot list the directory: " + ec.message()});
      std::sort(entries.begin(), entries.end());
      for (const fs::path& e : entries) read_file(e);
    } else if (fs::exists(p, ec)) {
      read_file(p);
    } else {
      errors.push_back({{path, 0, 0}, "no such file or directory"});
    }
  }
  return Loader().load(files, std::move(errors));
}

}  // namespace kamwatch::rules
