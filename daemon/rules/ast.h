#pragma once
// Syntax tree of one expression, as the parser produces it: no names resolved, no types.
// Offsets are byte indexes into the expression text, so errors can point at a token.
// Thread-safety: values.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "core/time.h"
#include "model/series_spec.h"

namespace kamwatch::rules::detail {

enum class BinOp : std::uint8_t {
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
};

[[nodiscard]] const char* binop_text(BinOp op);
[[nodiscard]] inline bool is_comparison(BinOp op) { return op >= BinOp::kLt && op <= BinOp::kNe; }

// `field OP literal` inside a selector's braces.
struct AstPredicate {
  std::string field;
  std::size_t field_offset = 0;
  model::Predicate::Op op = model::Predicate::Op::kEq;
  model::FieldValue value;
  std::size_t value_offset = 0;
};

struct Ast {
  enum class Kind : std::uint8_t {
    kNumber,    // number
    kDuration,  // duration (ms)
    kString,    // text
    kBool,      // boolean
    kPath,      // dotted name: segments / segment_offsets (identifier, account.x, or a selector)
    kNeg,       // -args[0]
    kNot,       // not args[0]
    kBinary,    // args[0] op args[1]
    kCall,      // text(args...)
    kWindow,    // duration `offset` offset_ms (an aggregate's window argument)
  };
  Kind kind = Kind::kNumber;
  std::size_t offset = 0;  // first byte of the construct (of the operator for kBinary)
  double number = 0;
  TimeMs duration = 0;
  TimeMs offset_ms = 0;           // kWindow
  std::size_t offset_offset = 0;  // kWindow: where the offset's duration is
  bool boolean = false;
  BinOp op = BinOp::kAdd;
  std::string text;  // kString value, kCall name, kPath full dotted text
  std::vector<std::string> segments;
  std::vector<std::size_t> segment_offsets;
  std::vector<AstPredicate> predicates;  // kPath used as a selector: `type{...}`
  bool has_braces = false;
  std::vector<Ast> args;
};

struct ParseError {
  std::size_t offset = 0;
  std::string message;
};

// Parses a whole expression. On error returns the first problem found.
struct ParseResult {
  Ast ast;
  bool ok = false;
  ParseError error;
};
[[nodiscard]] ParseResult parse_expression(std::string_view text);

// Functions whose first argument is a selector (`type{preds}` or `type.field{preds}`).
[[nodiscard]] bool takes_selector(std::string_view function);

}  // namespace kamwatch::rules::detail
