#pragma once
// The compiled form of expressions: a flat array of typed nodes with resolved references
// (selectors point at the state they read, derived values are inlined), evaluated by
// evaluator.h. Built once at load; immutable afterwards.
// Thread-safety: immutable after compilation; evaluation is const and re-entrant.
#include <cmath>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/time.h"

namespace kamwatch::rules::detail {

// Static types. kAny: a value whose kind is only known at run time (a custom type's field, a
// profile field not in the catalog); it is accepted where a number, string or bool is.
enum class Type : std::uint8_t { kNumber, kBool, kString, kDuration, kAny };
[[nodiscard]] const char* type_name(Type t);

// A windowed aggregate (or since/latest) over one event type's statistics.
struct Selector {
  enum class Agg : std::uint8_t {
    kCount,
    kSum,
    kAvg,
    kMin,
    kMax,
    kLast,
    kDistinct,
    kSince,
    kLatest,
    kSlope,
    kEwma,
  };
  Agg agg = Agg::kCount;
  std::string type;      // event type
  std::string field;     // value field; "" = the type's event count series
  bool derived = false;  // reads AccountState::derived[key] instead of types[type]
  bool grouped = false;  // derived series split by the rule's `by` field: read the current group
  std::string key;       // SeriesSpec::key() when derived
  TimeMs window = 0;
  TimeMs offset = 0;
  TimeMs step = 0;  // slope: the step; ewma: the half-life
};

enum class Op : std::uint8_t {
  kConst,
  kNeg,
  kNot,
  kAdd,
  kSub,
  kMul,
  kDiv,
  kLt,
  kLe,
  kGt,
  kGe,
  kEq,
  kNe,
  kAnd,
  kOr,
  kIf,
  kDefault,
  kAbs,
  kLeast,
  kGreatest,
  kPct,
  kFmt,
  kDaysUntil,
  kSelector,
  kAccountId,
  kProfile,  // str = profile field
  kKeyAccount,
  kRevenueRank,
  kClv,
  kPAlive,
  kExpectedPurchases,
  kHealth,
  kHealthBand,
  kHealthTrend,
  kAge,
  kGroup,
  kNow,
  kSlot,  // a value computed before templates run: `value` and evidence names
};

struct Node {
  Op op = Op::kConst;
  Type type = Type::kNumber;
  Type operand_type = Type::kNumber;  // comparisons: the operands' static type
  std::int32_t a = -1;
  std::int32_t b = -1;
  std::int32_t c = -1;
  std::int32_t index = -1;  // kSelector: selector index; kSlot: slot; kFmt: digits
  double number = NAN;      // kConst number / duration (ms)
  bool boolean = false;     // kConst bool
  std::string text;         // kConst string; kProfile field name
};

struct Program {
  std::vector<Node> nodes;
  std::vector<Selector> selectors;

  std::int32_t add(Node n) {
    nodes.push_back(std::move(n));
    return static_cast<std::int32_t>(nodes.size() - 1);
  }
};

}  // namespace kamwatch::rules::detail
