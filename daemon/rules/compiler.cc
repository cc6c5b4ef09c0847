#include "rules/compiler.h"

#include <algorithm>
#include <utility>

#include "ingest/catalog.h"

namespace kamwatch::rules::detail {
namespace {

using ingest::FieldKind;

// Retention of daily buckets by default (model::Retention); longer windows see partial data.
constexpr TimeMs kDefaultDailyRetention = model::Retention{}.daily;

std::string join(const std::vector<std::string>& s, std::size_t n, char sep = '.') {
  std::string out;
  for (std::size_t i = 0; i < n && i < s.size(); ++i) {
    if (i) out += sep;
    out += s[i];
  }
  return out;
}

std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t prev = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t cur = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, prev + (a[i - 1] == b[j - 1] ? 0 : 1)});
      prev = cur;
    }
  }
  return row[b.size()];
}

Type kind_type(FieldKind k) {
  switch (k) {
    case FieldKind::kNumber:
      return Type::kNumber;
    case FieldKind::kBool:
      return Type::kBool;
    case FieldKind::kString:
    case FieldKind::kDate:
      return Type::kString;
  }
  return Type::kAny;
}

bool numeric_like(Type t) { return t == Type::kNumber || t == Type::kAny; }

// The common type of two branches (if/default/least): equal types, or Any with a concrete one.
std::optional<Type> unify(Type a, Type b) {
  if (a == b) return a;
  if (a == Type::kAny && b != Type::kDuration) return b;
  if (b == Type::kAny && a != Type::kDuration) return a;
  return std::nullopt;
}

std::string article_type(Type t) {
  switch (t) {
    case Type::kNumber:
      return "a number";
    case Type::kBool:
      return "true/false";
    case Type::kString:
      return "a string";
    case Type::kDuration:
      return "a duration";
    case Type::kAny:
      return "a value";
  }
  return "a value";
}

const std::vector<std::string>& function_names() {
  static const std::vector<std::string> kNames = {
      "count", "sum",    "avg",      "min",  "max",        "last", "distinct",
      "since", "latest", "slope",    "ewma", "days_until", "if",   "default",
      "abs",   "least",  "greatest", "pct",  "fmt"};
  return kNames;
}

const std::vector<std::string>& account_attributes() {
  static const std::vector<std::string> kNames = {
      "id",     "key",         "revenue_rank", "clv",    "p_alive",        "expected_purchases",
      "health", "health_band", "health_trend", "age",    "name",           "kam",
      "tier",   "industry",    "region",       "parent", "contract_value", "renewal_date"};
  return kNames;
}

}  // namespace

const char* type_name(Type t) {
  switch (t) {
    case Type::kNumber:
      return "number";
    case Type::kBool:
      return "bool";
    case Type::kString:
      return "string";
    case Type::kDuration:
      return "duration";
    case Type::kAny:
      return "any";
  }
  return "?";
}

bool is_identifier(std::string_view s) {
  if (s.empty()) return false;
  if (!(std::isalpha(static_cast<unsigned char>(s[0])) || s[0] == '_')) return false;
  for (char c : s)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_')) return false;
  return true;
}

bool is_reserved_name(std::string_view s) {
  static constexpr std::string_view kReserved[] = {"and",    "or",      "not",   "true",  "false",
                                                   "offset", "account", "group", "value", "now"};
  for (std::string_view r : kReserved)
    if (r == s) return true;
  for (const std::string& f : function_names())
    if (f == s) return true;
  return false;
}

std::string did_you_mean(std::string_view word, const std::vector<std::string>& candidates) {
  std::size_t best = word.size() <= 3 ? 1 : 2;
  const std::string* pick = nullptr;
  for (const std::string& c : candidates) {
    const std::size_t d = edit_distance(word, c);
    if (d <= best && c != word) {
      if (!pick || d < best) pick = &c;
      best = d;
    }
  }
  return pick ? " (did you mean '" + *pick + "'?)" : "";
}

SourcePos Located::at(std::size_t offset) const {
  SourcePos p;
  if (file) p.file = *file;
  if (doc && node) {
    const config::YamlPos yp = doc->locate(*node, base + offset);
    p.line = yp.line;
    p.col = yp.col;
  } else if (node) {
    p.line = node->pos.line;
    p.col = node->pos.col;
  }
  return p;
}

Located Located::slice(std::size_t offset, std::size_t length) const {
  Located l = *this;
  l.text = text.substr(offset, length);
  l.base = base + offset;
  return l;
}

Compiler::Compiler(Program& program, const Names& names, CompileContext context, Diagnostics& diags)
    : program_(program), names_(names), ctx_(std::move(context)), diags_(diags) {}

Type Compiler::type_of(std::int32_t n) const {
  return program_.nodes[static_cast<std::size_t>(n)].type;
}

std::int32_t Compiler::error(const Located& w, std::size_t offset, std::string message) {
  // A problem that only shows where a derived value is used (e.g. grouping) names the user.
  if (inlining_ && !ctx_.what.empty()) message += " (where it is used by " + ctx_.what + ")";
  diags_.error(w.at(offset), std::move(message));
  return -1;
}

std::int32_t Compiler::compile_text(const Located& where, std::optional<Type> expect,
                                    std::string_view role) {
  ParseResult parsed = parse_expression(where.text);
  if (!parsed.ok) return error(where, parsed.error.offset, parsed.error.message);
  const std::int32_t root = compile(parsed.ast, where);
  if (root < 0 || !expect) return root;
  const Type t = type_of(root);
  if (t != *expect && t != Type::kAny) {
    std::string hint;
    if (*expect == Type::kBool) hint = ": write a condition such as 'x < 10'";
    return error(where, parsed.ast.offset,
                 "'" + std::string(role) + "' must be " + article_type(*expect) + ", but this is " +
                     article_type(t) + hint);
  }
  return root;
}

std::int32_t Compiler::compile(const Ast& ast, const Located& where) { return node(ast, where); }

std::int32_t Compiler::node(const Ast& a, const Located& w) {
  Node n;
  switch (a.kind) {
    case Ast::Kind::kNumber:
      n.type = Type::kNumber;
      n.number = a.number;
      return program_.add(std::move(n));
    case Ast::Kind::kDuration:
      n.type = Type::kDuration;
      n.number = static_cast<double>(a.duration);
      return program_.add(std::move(n));
    case Ast::Kind::kWindow:
      return error(w, a.offset_offset,
                   "'offset' belongs to an aggregate's window, e.g. sum(x, 14d offset 28d)");
    case Ast::Kind::kString:
      n.type = Type::kString;
      n.text = a.text;
      return program_.add(std::move(n));
    case Ast::Kind::kBool:
      n.type = Type::kBool;
      n.boolean = a.boolean;
      return program_.add(std::move(n));
    case Ast::Kind::kPath:
      if (a.has_braces)
        return error(w, a.offset, "a filter {...} is only allowed inside an aggregate");
      return name(a, w);
    case Ast::Kind::kNeg: {
      const std::int32_t x = node(a.args[0], w);
      if (x < 0) return -1;
      const Type t = type_of(x);
      if (t != Type::kNumber && t != Type::kDuration && t != Type::kAny)
        return error(w, a.offset, "'-' needs a number or a duration, not " + article_type(t));
      n.op = Op::kNeg;
      n.type = t == Type::kAny ? Type::kNumber : t;
      n.a = x;
      return program_.add(std::move(n));
    }
    case Ast::Kind::kNot: {
      const std::int32_t x = node(a.args[0], w);
      if (x < 0) return -1;
      const Type t = type_of(x);
      if (t != Type::kBool && t != Type::kAny)
        return error(w, a.offset, "'not' needs true/false, not " + article_type(t));
      n.op = Op::kNot;
      n.type = Type::kBool;
      n.a = x;
      return program_.add(std::move(n));
    }
    case Ast::Kind::kBinary:
      return binary(a, w);
    case Ast::Kind::kCall:
      return call(a, w);
  }
  return -1;
}

std::int32_t Compiler::derived_ref(std::size_t index) {
  auto it = inlined_.find(index);
  if (it != inlined_.end()) return it->second;
  const DerivedDef& d = names_.derived[index];
  if (!d.ok) return -1;  // already reported at its definition
  // Compiled in this rule's context (grouping), with positions inside the derived text. The
  // template names (evidence may share a derived value's name) are not visible inside it.
  const auto* slots = ctx_.slots;
  ctx_.slots = nullptr;
  ++inlining_;
  const std::int32_t root = node(d.ast, d.expr);
  --inlining_;
  ctx_.slots = slots;
  inlined_[index] = root;
  return root;
}

std::int32_t Compiler::name(const Ast& a, const Located& w) {
  const std::string& first = a.segments[0];
  if (first == "account") return account_attribute(a, w);
  if (a.segments.size() == 1) {
    if (ctx_.slots) {
      for (std::size_t i = 0; i < ctx_.slots->size(); ++i) {
        if ((*ctx_.slots)[i].first == first) {
          Node n;
          n.op = Op::kSlot;
          n.type = (*ctx_.slots)[i].second;
          n.index = static_cast<std::int32_t>(i);
          return program_.add(std::move(n));
        }
      }
    }
    for (std::size_t i = 0; i < names_.derived.size(); ++i) {
      if (names_.derived[i].name != first) continue;
      if (i >= ctx_.visible_derived)
        return error(w, a.offset,
                     "derived value '" + first +
                         "' is defined later: a derived value may only use those defined "
                         "before it");
      return derived_ref(i);
    }
    if (first == "group") {
      if (!ctx_.allow_group)
        return error(w, a.offset, "'group' is only available in alert rules with 'by:'");
      Node n;
      n.op = Op::kGroup;
      n.type = Type::kString;
      return program_.add(std::move(n));
    }
    if (first == "now") {
      Node n;
      n.op = Op::kNow;
      n.type = Type::kString;
      return program_.add(std::move(n));
    }
    if (first == "value")
      return error(w, a.offset, "'value' is only available in templates (summary, description)");
    for (const std::string& f : function_names())
      if (f == first)
        return error(w, a.offset, "'" + first + "' is a function: call it as " + first + "(...)");
  }
  // Event data named outside an aggregate.
  for (std::size_t k = a.segments.size(); k >= 1; --k) {
    const std::string t = join(a.segments, k);
    if (ingest::find_event_type(t) || names_.custom_types.count(t)) {
      return error(
          w, a.offset,
          "'" + a.text + "' is event data: read it with an aggregate, e.g. " +
              (k < a.segments.size() ? "sum(" + a.text + ", 30d)" : "count(" + a.text + ", 30d)"));
    }
  }
  std::vector<std::string> candidates = {"group", "now"};
  for (std::size_t i = 0; i < ctx_.visible_derived && i < names_.derived.size(); ++i)
    candidates.push_back(names_.derived[i].name);
  if (ctx_.slots)
    for (const auto& [s, t] : *ctx_.slots) candidates.push_back(s);
  return error(w, a.offset, "unknown name '" + a.text + "'" + did_you_mean(a.text, candidates));
}

std::int32_t Compiler::account_attribute(const Ast& a, const Located& w) {
  if (a.segments.size() != 2)
    return error(w, a.offset,
                 "'" + a.text +
                     "' is not an account attribute: use account.<name>, e.g. "
                     "account.name, account.key, account.age");
  const std::string& attr = a.segments[1];
  Node n;
  n.type = Type::kNumber;
  if (attr == "id") {
    n.op = Op::kAccountId;
    n.type = Type::kString;
  } else if (attr == "key") {
    n.op = Op::kKeyAccount;
    n.type = Type::kBool;
  } else if (attr == "revenue_rank") {
    n.op = Op::kRevenueRank;
  } else if (attr == "clv") {
    n.op = Op::kClv;
  } else if (attr == "p_alive") {
    n.op = Op::kPAlive;
  } else if (attr == "expected_purchases") {
    n.op = Op::kExpectedPurchases;
  } else if (attr == "age") {
    n.op = Op::kAge;
    n.type = Type::kDuration;
  } else if (attr == "health" || attr == "health_band" || attr == "health_trend") {
    if (!ctx_.allow_health)
      return error(w, a.segment_offsets[1],
                   "account." + attr + " cannot be used inside the scorecard it comes from");
    n.op = attr == "health"        ? Op::kHealth
           : attr == "health_band" ? Op::kHealthBand
                                   : Op::kHealthTrend;
    n.type = attr == "health_band" ? Type::kString : Type::kNumber;
    reads_health = true;
    reads_health_trend |= attr == "health_trend";
  } else {
    // A profile field (account.profile events).
    n.op = Op::kProfile;
    n.text = attr;
    const ingest::EventTypeSpec* profile = ingest::find_event_type("account.profile");
    const ingest::FieldSpec* f = profile ? profile->find_field(attr) : nullptr;
    if (f) {
      n.type = kind_type(f->kind);
    } else {
      n.type = Type::kAny;
      diags_.warn(w.at(a.segment_offsets[1]),
                  "'account." + attr +
                      "' is not a catalog profile field; it is read from account.profile as is" +
                      did_you_mean(attr, account_attributes()));
    }
    types_read.insert("account.profile");
  }
  return program_.add(std::move(n));
}

std::int32_t Compiler::binary(const Ast& a, const Located& w) {
  const std::int32_t x = node(a.args[0], w);
  const std::int32_t y = node(a.args[1], w);
  if (x < 0 || y < 0) return -1;
  const Type tx = type_of(x);
  const Type ty = type_of(y);
  Node n;
  n.a = x;
  n.b = y;
  const std::string op = binop_text(a.op);
  switch (a.op) {
    case BinOp::kAnd:
    case BinOp::kOr:
      for (Type t : {tx, ty})
        if (t != Type::kBool && t != Type::kAny)
          return error(
              w, a.offset,
              "'" + op + "' needs true/false on both sides, but one side is " + article_type(t));
      n.op = a.op == BinOp::kAnd ? Op::kAnd : Op::kOr;
      n.type = Type::kBool;
      return program_.add(std::move(n));
    case BinOp::kLt:
    case BinOp::kLe:
    case BinOp::kGt:
    case BinOp::kGe:
    case BinOp::kEq:
    case BinOp::kNe: {
      static constexpr Op kOps[] = {Op::kLt, Op::kLe, Op::kGt, Op::kGe, Op::kEq, Op::kNe};
      n.op = kOps[static_cast<int>(a.op) - static_cast<int>(BinOp::kLt)];
      n.type = Type::kBool;
      std::optional<Type> t = unify(tx, ty);
      if (!t) {
        std::string hint;
        if ((tx == Type::kDuration && ty == Type::kNumber) ||
            (tx == Type::kNumber && ty == Type::kDuration))
          hint = " (write durations with a unit, e.g. 14d, or divide by one: since(x) / 1d)";
        return error(w, a.offset,
                     "cannot compare " + article_type(tx) + " with " + article_type(ty) + hint);
      }
      if (*t == Type::kBool && a.op != BinOp::kEq && a.op != BinOp::kNe)
        return error(w, a.offset, "true/false values can only be compared with == or !=");
      n.operand_type = *t;
      return program_.add(std::move(n));
    }
    case BinOp::kAdd:
    case BinOp::kSub:
    case BinOp::kMul:
    case BinOp::kDiv: {
      const Type ux = tx == Type::kAny ? Type::kNumber : tx;
      const Type uy = ty == Type::kAny ? Type::kNumber : ty;
      std::optional<Type> result;
      const bool nn = ux == Type::kNumber && uy == Type::kNumber;
      const bool dd = ux == Type::kDuration && uy == Type::kDuration;
      const bool dn = ux == Type::kDuration && uy == Type::kNumber;
      const bool nd = ux == Type::kNumber && uy == Type::kDuration;
      if (a.op == BinOp::kAdd || a.op == BinOp::kSub) {
        if (nn) result = Type::kNumber;
        if (dd) result = Type::kDuration;
      } else if (a.op == BinOp::kMul) {
        if (nn) result = Type::kNumber;
        if (dn || nd) result = Type::kDuration;
      } else {
        if (nn || dd) result = Type::kNumber;
        if (dn) result = Type::kDuration;
      }
      if (!result) {
        std::string hint;
        if ((dn || nd) && (a.op == BinOp::kAdd || a.op == BinOp::kSub))
          hint = " (write durations with a unit, e.g. 14d)";
        return error(
            w, a.offset,
            "cannot apply '" + op + "' to " + article_type(tx) + " and " + article_type(ty) + hint);
      }
      static constexpr Op kOps[] = {Op::kAdd, Op::kSub, Op::kMul, Op::kDiv};
      n.op = kOps[static_cast<int>(a.op)];
      n.type = *result;
      return program_.add(std::move(n));
    }
  }
  return -1;
}

bool Compiler::arity(const Ast& a, const Located& w, std::size_t n, std::string_view usage) {
  if (a.args.size() == n) return true;
  error(w, a.offset,
        a.text + "() takes " + std::to_string(n) + (n == 1 ? " argument" : " arguments") + " (" +
            std::string(usage) + "), got " + std::to_string(a.args.size()));
  return false;
}

std::int32_t Compiler::call(const Ast& a, const Located& w) {
  const std::string& f = a.text;
  if (takes_selector(f)) return aggregate(a, w);
  Node n;
  auto arg = [&](std::size_t i) { return node(a.args[i], w); };
  auto bad_arg = [&](std::size_t i, const std::string& need, Type got) {
    return error(w, a.args[i].offset,
                 f + "() needs " + need + " here, but this is " + article_type(got));
  };
  if (f == "if") {
    if (!arity(a, w, 3, "condition, value if true, value if false")) return -1;
    const std::int32_t c = arg(0), x = arg(1), y = arg(2);
    if (c < 0 || x < 0 || y < 0) return -1;
    if (type_of(c) != Type::kBool && type_of(c) != Type::kAny)
      return bad_arg(0, "a condition (true/false)", type_of(c));
    const auto t = unify(type_of(x), type_of(y));
    if (!t)
      return error(w, a.args[2].offset,
                   "if() branches must have the same type, but they are " +
                       article_type(type_of(x)) + " and " + article_type(type_of(y)));
    n.op = Op::kIf;
    n.type = *t;
    n.a = c;
    n.b = x;
    n.c = y;
    return program_.add(std::move(n));
  }
  if (f == "default" || f == "least" || f == "greatest") {
    if (!arity(a, w, 2, f == "default" ? "value, fallback when it is missing" : "a, b")) return -1;
    const std::int32_t x = arg(0), y = arg(1);
    if (x < 0 || y < 0) return -1;
    const auto t = unify(type_of(x), type_of(y));
    if (!t)
      return error(w, a.args[1].offset,
                   f + "() arguments must have the same type, but they are " +
                       article_type(type_of(x)) + " and " + article_type(type_of(y)));
    const bool allowed = *t == Type::kNumber || *t == Type::kDuration || *t == Type::kAny ||
                         (f == "default" && *t == Type::kString);
    if (!allowed)
      return bad_arg(0, f == "default" ? "a number, duration or string" : "numbers or durations",
                     *t);
    n.op = f == "default" ? Op::kDefault : f == "least" ? Op::kLeast : Op::kGreatest;
    n.type = *t;
    n.a = x;
    n.b = y;
    return program_.add(std::move(n));
  }
  if (f == "abs") {
    if (!arity(a, w, 1, "a number or duration")) return -1;
    const std::int32_t x = arg(0);
    if (x < 0) return -1;
    const Type t = type_of(x);
    if (!numeric_like(t) && t != Type::kDuration) return bad_arg(0, "a number or a duration", t);
    n.op = Op::kAbs;
    n.type = t == Type::kAny ? Type::kNumber : t;
    n.a = x;
    return program_.add(std::move(n));
  }
  if (f == "pct") {
    if (!arity(a, w, 1, "a fraction, 0.42 shows as 42%")) return -1;
    const std::int32_t x = arg(0);
    if (x < 0) return -1;
    if (!numeric_like(type_of(x))) return bad_arg(0, "a number", type_of(x));
    n.op = Op::kPct;
    n.type = Type::kString;
    n.a = x;
    return program_.add(std::move(n));
  }
  if (f == "fmt") {
    if (!arity(a, w, 2, "number, digits after the point")) return -1;
    const std::int32_t x = arg(0);
    if (x < 0) return -1;
    if (!numeric_like(type_of(x))) return bad_arg(0, "a number", type_of(x));
    const Ast& d = a.args[1];
    if (d.kind != Ast::Kind::kNumber || d.number < 0 || d.number > 10 ||
        d.number != static_cast<double>(static_cast<int>(d.number)))
      return error(w, d.offset, "fmt() needs a whole number of digits from 0 to 10 here");
    n.op = Op::kFmt;
    n.type = Type::kString;
    n.a = x;
    n.index = static_cast<std::int32_t>(d.number);
    return program_.add(std::move(n));
  }
  if (f == "days_until") {
    if (!arity(a, w, 1, "a date YYYY-MM-DD or an RFC 3339 time")) return -1;
    const std::int32_t x = arg(0);
    if (x < 0) return -1;
    const Type t = type_of(x);
    if (t != Type::kString && t != Type::kAny) return bad_arg(0, "a date string", t);
    n.op = Op::kDaysUntil;
    n.type = Type::kNumber;
    n.a = x;
    return program_.add(std::move(n));
  }
  return error(w, a.offset, "unknown function '" + f + "'" + did_you_mean(f, function_names()));
}

std::int32_t Compiler::aggregate(const Ast& a, const Located& w) {
  using A = Selector::Agg;
  const std::string& f = a.text;
  static const std::map<std::string, A, std::less<>> kAggs = {
      {"count", A::kCount},       {"sum", A::kSum},     {"avg", A::kAvg},
      {"min", A::kMin},           {"max", A::kMax},     {"last", A::kLast},
      {"distinct", A::kDistinct}, {"since", A::kSince}, {"latest", A::kLatest},
      {"slope", A::kSlope},       {"ewma", A::kEwma}};
  Selector sel;
  sel.agg = kAggs.at(f);
  const bool windowed = sel.agg != A::kSince && sel.agg != A::kLatest;
  const bool stepped = sel.agg == A::kSlope || sel.agg == A::kEwma;
  const std::size_t want = stepped ? 3 : windowed ? 2 : 1;
  std::string usage;
  switch (sel.agg) {
    case A::kCount:
      usage = "event type with optional {filter}, window such as 30d";
      break;
    case A::kSince:
      usage = "event type with optional {filter}";
      break;
    case A::kLatest:
      usage = "type.field";
      break;
    case A::kSlope:
      usage = "type.field, window, step such as 1w";
      break;
    case A::kEwma:
      usage = "type.field, window, half-life such as 7d";
      break;
    default:
      usage = "type.field with optional {filter}, window such as 30d";
  }
  if (a.args.empty() || a.args[0].kind != Ast::Kind::kPath)
    return error(w, a.offset, f + "() takes " + usage);
  if (!arity(a, w, want, usage)) return -1;
  const Ast& path = a.args[0];
  const std::vector<std::string>& seg = path.segments;

  // Resolve the event type (and field).
  auto known = [&](const std::string& t) {
    return ingest::find_event_type(t) != nullptr || names_.custom_types.count(t) > 0;
  };
  const bool field_required = sel.agg != A::kCount && sel.agg != A::kSince && !stepped;
  const bool field_allowed = sel.agg != A::kCount && sel.agg != A::kSince;
  const std::string full = path.text;
  const std::string prefix = seg.size() >= 2 ? join(seg, seg.size() - 1) : std::string();
  if (known(full) && !field_required) {
    sel.type = full;
  } else if (field_allowed && !prefix.empty() && known(prefix)) {
    sel.type = prefix;
    sel.field = seg.back();
  } else if (known(full)) {
    return error(
        w, path.offset, f + "() needs a field of " + full + ", e.g. " + f + "(" + full + "." + [&] {
          const auto* spec = ingest::find_event_type(full);
          if (spec)
            for (const auto& fs : spec->fields)
              if (fs.kind == FieldKind::kNumber) return std::string(fs.name);
          return std::string("amount");
        }() + (windowed ? ", 30d)" : ")"));
  } else if (!field_allowed && !prefix.empty() && known(prefix)) {
    return error(w, path.segment_offsets.back(),
                 f + "() takes an event type, not a field: write " + f + "(" + prefix +
                     (windowed ? ", ...)" : ")"));
  } else {
    if ((sel.agg == A::kMin || sel.agg == A::kMax) && seg.size() == 1)
      return error(w, path.offset,
                   f + "() is the " + (sel.agg == A::kMin ? "smallest" : "largest") +
                       " value of a field in a window; for two values use " +
                       (sel.agg == A::kMin ? "least(a, b)" : "greatest(a, b)"));
    const std::string shown = field_required && !prefix.empty() ? prefix : full;
    std::vector<std::string> types(names_.custom_types.begin(), names_.custom_types.end());
    for (const auto& t : ingest::known_event_types()) types.emplace_back(t.type);
    return error(w, path.offset,
                 "unknown event type '" + shown + "'" + did_you_mean(shown, types) +
                     "; a type outside the event catalog must be declared under custom_types");
  }
  const ingest::EventTypeSpec* spec = ingest::find_event_type(sel.type);
  const std::size_t type_segments =
      static_cast<std::size_t>(std::count(sel.type.begin(), sel.type.end(), '.') + 1);

  Type result = Type::kNumber;
  if (!sel.field.empty() && spec) {
    const ingest::FieldSpec* fs = spec->find_field(sel.field);
    const std::size_t field_offset = path.segment_offsets[type_segments];
    if (!fs) {
      std::vector<std::string> names;
      std::string list;
      for (const auto& x : spec->fields) {
        names.emplace_back(x.name);
        list += (list.empty() ? "" : ", ") + std::string(x.name);
      }
      return error(w, field_offset,
                   "unknown field '" + sel.field + "' of " + sel.type +
                       did_you_mean(sel.field, names) + "; its fields are " + list);
    }
    const bool numeric_agg = sel.agg != A::kDistinct && sel.agg != A::kLatest;
    if (numeric_agg && fs->kind != FieldKind::kNumber)
      return error(w, field_offset,
                   f + "() needs a numeric field, but '" + sel.field + "' of " + sel.type +
                       " is a " + std::string(ingest::field_kind_name(fs->kind)) +
                       (sel.agg == A::kSum || sel.agg == A::kAvg
                            ? "; to count events by it, use count(" + sel.type + "{" + sel.field +
                                  " == \"...\"}, 30d) or distinct(...)"
                            : ""));
    if (sel.agg == A::kLatest) result = kind_type(fs->kind);
  } else if (sel.agg == A::kLatest) {
    result = Type::kAny;  // a custom type's field: number or string, known at run time
  }
  if (sel.agg == A::kSince) result = Type::kDuration;

  // Filter predicates.
  std::vector<model::Predicate> where;
  for (const AstPredicate& p : path.predicates) {
    model::Predicate pred{p.field, p.op, p.value};
    if (spec) {
      const ingest::FieldSpec* fs = spec->find_field(p.field);
      if (!fs) {
        std::vector<std::string> names;
        for (const auto& x : spec->fields) names.emplace_back(x.name);
        error(w, p.field_offset,
              "unknown field '" + p.field + "' of " + sel.type + did_you_mean(p.field, names));
        continue;
      }
      const Type ft = kind_type(fs->kind);
      const Type lt = p.value.is_number()   ? Type::kNumber
                      : p.value.is_string() ? Type::kString
                                            : Type::kBool;
      if (ft != lt) {
        error(w, p.value_offset,
              "field '" + p.field + "' of " + sel.type + " is a " +
                  std::string(ingest::field_kind_name(fs->kind)) + ", so compare it with " +
                  article_type(ft) + (ft == Type::kString ? " in quotes" : ""));
        continue;
      }
    }
    if (p.value.kind == model::FieldValue::Kind::kBool && p.op != model::Predicate::Op::kEq &&
        p.op != model::Predicate::Op::kNe) {
      error(w, p.value_offset, "true/false can only be compared with == or !=");
      continue;
    }
    where.push_back(std::move(pred));
  }
  if (where.size() != path.predicates.size()) return -1;
  // Canonical order, so the same filter written differently shares one derived series.
  std::sort(where.begin(), where.end(), [](const model::Predicate& x, const model::Predicate& y) {
    if (x.field != y.field) return x.field < y.field;
    if (x.op != y.op) return x.op < y.op;
    return model::field_value_text(x.value) < model::field_value_text(y.value);
  });

  // Window and step.
  if (windowed) {
    const Ast& win = a.args[1];
    if (win.kind != Ast::Kind::kDuration && win.kind != Ast::Kind::kWindow)
      return error(w, win.offset,
                   f + "() needs a window here: a duration such as 30d, optionally with "
                       "'offset 30d'");
    if (win.duration <= 0) return error(w, win.offset, "a window must be longer than 0");
    sel.window = win.duration;
    sel.offset = win.kind == Ast::Kind::kWindow ? win.offset_ms : 0;
    if (sel.window + sel.offset > kDefaultDailyRetention) {
      diags_.warn(w.at(win.offset),
                  "this window reaches back " + format_duration(sel.window + sel.offset) +
                      ", beyond the " + format_duration(kDefaultDailyRetention) +
                      " of daily history kept by default: older data is not counted");
    }
  }
  if (stepped) {
    const Ast& st = a.args[2];
    if (st.kind != Ast::Kind::kDuration || st.duration <= 0)
      return error(w, st.offset,
                   f + "() needs a " + (sel.agg == A::kSlope ? "step" : "half-life") +
                       " here: a duration longer than 0 such as 7d");
    sel.step = st.duration;
    if (sel.agg == A::kSlope) {
      if (sel.window % sel.step != 0 || sel.window / sel.step < 2 || sel.window / sel.step > 1000)
        return error(w, a.args[1].offset,
                     "slope() needs a window of 2 to 1000 whole steps, e.g. slope(x, 8w, 1w)");
    } else if (sel.window % kDayMs != 0) {
      return error(w, a.args[1].offset,
                   "ewma() works on daily sums: its window must be whole days, e.g. 28d");
    }
  }

  // Grouping: a selector over a type that has the rule's `by` field is split by it.
  const bool grouped =
      !ctx_.by.empty() && (spec == nullptr || spec->find_field(ctx_.by) != nullptr);
  if (sel.agg == A::kDistinct) {
    if (grouped)
      return error(w, a.offset,
                   "distinct() cannot be used in a rule grouped by '" + ctx_.by + "' over " +
                       sel.type + ", which has that field");
    sel.derived = true;
    model::SeriesSpec s{sel.type, where, sel.field};
    sel.key = s.key();
    specs.push_back(std::move(s));
  } else if (grouped || !where.empty()) {
    sel.derived = true;
    sel.grouped = grouped;
    model::SeriesSpec s{sel.type, where, grouped ? ctx_.by : std::string()};
    sel.key = s.key();
    if (grouped) grouped_keys.insert(sel.key);
    specs.push_back(std::move(s));
  }
  types_read.insert(sel.type);

  program_.selectors.push_back(std::move(sel));
  Node n;
  n.op = Op::kSelector;
  n.type = result;
  n.index = static_cast<std::int32_t>(program_.selectors.size() - 1);
  return program_.add(std::move(n));
}

}  // namespace kamwatch::rules::detail
