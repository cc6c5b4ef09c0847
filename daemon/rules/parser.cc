// Lexer and recursive-descent parser for rule expressions (grammar in docs/rules.md).
#include <cctype>
#include <charconv>
#include <cmath>
#include <string>
#include <string_view>
#include <utility>

#include "rules/ast.h"

namespace kamwatch::rules::detail {
namespace {

struct Token {
  enum class Kind : std::uint8_t { kEnd, kNumber, kDuration, kString, kIdent, kPunct };
  Kind kind = Kind::kEnd;
  std::size_t offset = 0;
  std::string text;  // identifier, punctuation, string value
  double number = 0;
  TimeMs duration = 0;
};

bool ident_start(char c) { return std::isalpha(static_cast<unsigned char>(c)) || c == '_'; }
bool ident_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }

class Parser {
 public:
  explicit Parser(std::string_view text) : src_(text) {}

  ParseResult run() {
    ParseResult out;
    if (!advance()) return fail_result();
    if (tok_.kind == Token::Kind::kEnd) {
      error_ = {0, "empty expression"};
      return fail_result();
    }
    Ast ast;
    if (!parse_or(ast)) return fail_result();
    if (tok_.kind != Token::Kind::kEnd) {
      error_ = {tok_.offset, "unexpected " + describe(tok_) + " after the end of the expression"};
      return fail_result();
    }
    out.ast = std::move(ast);
    out.ok = true;
    return out;
  }

 private:
  ParseResult fail_result() {
    ParseResult r;
    r.error = error_;
    return r;
  }

  static std::string describe(const Token& t) {
    switch (t.kind) {
      case Token::Kind::kEnd:
        return "end of expression";
      case Token::Kind::kNumber:
      case Token::Kind::kDuration:
        return "number";
      case Token::Kind::kString:
        return "string";
      case Token::Kind::kIdent:
        return "'" + t.text + "'";
      case Token::Kind::kPunct:
        return "'" + t.text + "'";
    }
    return "token";
  }

  bool fail(std::size_t offset, std::string message) {
    error_ = {offset, std::move(message)};
    return false;
  }

  // Reads the next token into tok_.
  bool advance() {
    std::size_t p = pos_;
    while (p < src_.size() && std::isspace(static_cast<unsigned char>(src_[p]))) ++p;
    tok_ = Token{};
    tok_.offset = p;
    if (p >= src_.size()) {
      pos_ = p;
      return true;
    }
    const char c = src_[p];
    if (std::isdigit(static_cast<unsigned char>(c)) ||
        (c == '.' && p + 1 < src_.size() &&
         std::isdigit(static_cast<unsigned char>(src_[p + 1])))) {
      return lex_number(p);
    }
    if (ident_start(c)) {
      std::size_t e = p;
      while (e < src_.size() && ident_char(src_[e])) ++e;
      tok_.kind = Token::Kind::kIdent;
      tok_.text = std::string(src_.substr(p, e - p));
      pos_ = e;
      return true;
    }
    if (c == '"' || c == '\'') return lex_string(p);
    static constexpr std::string_view kTwo[] = {"<=", ">=", "==", "!="};
    for (std::string_view two : kTwo) {
      if (src_.substr(p, 2) == two) {
        tok_.kind = Token::Kind::kPunct;
        tok_.text = std::string(two);
        pos_ = p + 2;
        return true;
      }
    }
    if (std::string_view("(){},.+-*/<>").find(c) != std::string_view::npos) {
      tok_.kind = Token::Kind::kPunct;
      tok_.text = std::string(1, c);
      pos_ = p + 1;
      return true;
    }
    if (c == '=') return fail(p, "'=' is not an operator: write '==' to compare");
    if (c == '&' || c == '|' || c == '!')
      return fail(p, std::string("'") + c + "' is not an operator: write 'and', 'or', 'not'");
    return fail(p, std::string("unexpected character '") + c + "'");
  }

  bool lex_number(std::size_t p) {
    std::size_t e = p;
    while (e < src_.size() && std::isdigit(static_cast<unsigned char>(src_[e]))) ++e;
    bool fraction = false;
    if (e < src_.size() && src_[e] == '.' && e + 1 < src_.size() &&
        std::isdigit(static_cast<unsigned char>(src_[e + 1]))) {
      fraction = true;
      ++e;
      while (e < src_.size() && std::isdigit(static_cast<unsigned char>(src_[e]))) ++e;
    }
    // Exponent: 1e3, 2.5E-2 (an 'e' not followed by a digit is not an exponent).
    if (e < src_.size() && (src_[e] == 'e' || src_[e] == 'E')) {
      std::size_t x = e + 1;
      if (x < src_.size() && (src_[x] == '+' || src_[x] == '-')) ++x;
      if (x < src_.size() && std::isdigit(static_cast<unsigned char>(src_[x]))) {
        e = x;
        while (e < src_.size() && std::isdigit(static_cast<unsigned char>(src_[e]))) ++e;
        fraction = true;
      }
    }
    if (e < src_.size() && ident_start(src_[e])) {
      // A duration: digits with unit letters, possibly compound ("1d12h").
      std::size_t d = e;
      while (d < src_.size() && ident_char(src_[d])) ++d;
      const std::string_view text = src_.substr(p, d - p);
      auto dur = fraction ? std::nullopt : parse_duration(text);
      if (!dur) {
        return fail(p, "bad duration '" + std::string(text) +
                           "': use whole numbers with ms, s, m, h, d, w or y, e.g. 14d or 1d12h");
      }
      tok_.kind = Token::Kind::kDuration;
      tok_.duration = *dur;
      pos_ = d;
      return true;
    }
    double v = 0;
    const auto res = std::from_chars(src_.data() + p, src_.data() + e, v);
    if (res.ec != std::errc())
      return fail(p, "bad number '" + std::string(src_.substr(p, e - p)) + "'");
    tok_.kind = Token::Kind::kNumber;
    tok_.number = v;
    pos_ = e;
    return true;
  }

  bool lex_string(std::size_t p) {
    const char q = src_[p];
    std::string out;
    std::size_t e = p + 1;
    while (e < src_.size() && src_[e] != q) {
      if (src_[e] == '\\' && e + 1 < src_.size()) {
        const char n = src_[e + 1];
        switch (n) {
          case 'n':
            out += '\n';
            break;
          case 't':
            out += '\t';
            break;
          case '\\':
          case '"':
          case '\'':
            out += n;
            break;
          default:
            return fail(e, std::string("unknown escape '\\") + n + "' in string");
        }
        e += 2;
        continue;
      }
      out += src_[e++];
    }
    if (e >= src_.size())
      return fail(p, "unterminated string: missing closing " + std::string(1, q));
    tok_.kind = Token::Kind::kString;
    tok_.text = std::move(out);
    pos_ = e + 1;
    return true;
  }

  bool is_punct(std::string_view p) const {
    return tok_.kind == Token::Kind::kPunct && tok_.text == p;
  }
  bool is_keyword(std::string_view k) const {
    return tok_.kind == Token::Kind::kIdent && tok_.text == k;
  }
  bool expect(std::string_view p, std::string_view context) {
    if (!is_punct(p))
      return fail(tok_.offset, "expected '" + std::string(p) + "' " + std::string(context) +
                                   ", found " + describe(tok_));
    return advance();
  }

  bool parse_or(Ast& out) {
    // Bounds recursion (and so stack use) on hostile input such as "((((...".
    if (++depth_ > kMaxDepth) return fail(tok_.offset, "expression nested too deeply");
    struct Leave {
      int& d;
      ~Leave() { --d; }
    } leave{depth_};
    if (!parse_and(out)) return false;
    while (is_keyword("or")) {
      if (!binary(out, BinOp::kOr, &Parser::parse_and)) return false;
    }
    return true;
  }
  bool parse_and(Ast& out) {
    if (!parse_not(out)) return false;
    while (is_keyword("and")) {
      if (!binary(out, BinOp::kAnd, &Parser::parse_not)) return false;
    }
    return true;
  }
  bool parse_not(Ast& out) {
    if (is_keyword("not")) {
      if (++unary_ > kMaxDepth) return fail(tok_.offset, "expression nested too deeply");
      Ast n;
      n.kind = Ast::Kind::kNot;
      n.offset = tok_.offset;
      if (!advance()) return false;
      Ast operand;
      if (!parse_not(operand)) return false;
      n.args.push_back(std::move(operand));
      out = std::move(n);
      return true;
    }
    return parse_cmp(out);
  }
  bool parse_cmp(Ast& out) {
    if (!parse_add(out)) return false;
    static constexpr std::pair<std::string_view, BinOp> kOps[] = {
        {"<", BinOp::kLt},  {"<=", BinOp::kLe}, {">", BinOp::kGt},
        {">=", BinOp::kGe}, {"==", BinOp::kEq}, {"!=", BinOp::kNe}};
    for (const auto& [text, op] : kOps) {
      if (!is_punct(text)) continue;
      if (!binary(out, op, &Parser::parse_add)) return false;
      for (const auto& [t2, op2] : kOps) {
        if (is_punct(t2))
          return fail(tok_.offset,
                      "comparisons do not chain: write 'a < b and b < c' instead of 'a < b < c'");
      }
      return true;
    }
    return true;
  }
  bool parse_add(Ast& out) {
    if (!parse_mul(out)) return false;
    while (is_punct("+") || is_punct("-")) {
      if (!binary(out, is_punct("+") ? BinOp::kAdd : BinOp::kSub, &Parser::parse_mul)) return false;
    }
    return true;
  }
  bool parse_mul(Ast& out) {
    if (!parse_unary(out)) return false;
    while (is_punct("*") || is_punct("/")) {
      if (!binary(out, is_punct("*") ? BinOp::kMul : BinOp::kDiv, &Parser::parse_unary))
        return false;
    }
    return true;
  }
  bool parse_unary(Ast& out) {
    if (is_punct("-")) {
      if (++unary_ > kMaxDepth) return fail(tok_.offset, "expression nested too deeply");
      Ast n;
      n.kind = Ast::Kind::kNeg;
      n.offset = tok_.offset;
      if (!advance()) return false;
      Ast operand;
      if (!parse_unary(operand)) return false;
      n.args.push_back(std::move(operand));
      out = std::move(n);
      return true;
    }
    return parse_primary(out);
  }

  using Sub = bool (Parser::*)(Ast&);
  bool binary(Ast& left, BinOp op, Sub next) {
    if (++operators_ > kMaxOperators)
      return fail(tok_.offset, "expression too long: split it into derived values");
    Ast n;
    n.kind = Ast::Kind::kBinary;
    n.op = op;
    n.offset = tok_.offset;
    if (!advance()) return false;
    if (tok_.kind == Token::Kind::kEnd)
      return fail(tok_.offset, std::string("missing operand after '") + binop_text(op) + "'");
    Ast right;
    if (!(this->*next)(right)) return false;
    n.args.push_back(std::move(left));
    n.args.push_back(std::move(right));
    left = std::move(n);
    return true;
  }

  bool parse_primary(Ast& out) {
    switch (tok_.kind) {
      case Token::Kind::kNumber:
        out = Ast{};
        out.kind = Ast::Kind::kNumber;
        out.offset = tok_.offset;
        out.number = tok_.number;
        return advance();
      case Token::Kind::kDuration:
        out = Ast{};
        out.kind = Ast::Kind::kDuration;
        out.offset = tok_.offset;
        out.duration = tok_.duration;
        if (!advance()) return false;
        if (is_keyword("offset")) return parse_offset(out);
        return true;
      case Token::Kind::kString:
        out = Ast{};
        out.kind = Ast::Kind::kString;
        out.offset = tok_.offset;
        out.text = tok_.text;
        return advance();
      case Token::Kind::kIdent:
        return parse_name(out);
      case Token::Kind::kPunct:
        if (is_punct("(")) {
          if (!advance()) return false;
          if (!parse_or(out)) return false;
          return expect(")", "to close '('");
        }
        return fail(tok_.offset, "expected a value, found " + describe(tok_));
      case Token::Kind::kEnd:
        return fail(tok_.offset, "expression ends too early: expected a value");
    }
    return false;
  }

  // `offset DURATION` after a window duration: turns out (a kDuration) into a kWindow.
  bool parse_offset(Ast& out) {
    if (!advance()) return false;
    if (tok_.kind != Token::Kind::kDuration)
      return fail(tok_.offset, "expected a duration after 'offset', e.g. 'offset 28d'");
    out.kind = Ast::Kind::kWindow;
    out.offset_ms = tok_.duration;
    out.offset_offset = tok_.offset;
    return advance();
  }

  bool parse_name(Ast& out) {
    const std::string first = tok_.text;
    const std::size_t start = tok_.offset;
    if (first == "and" || first == "or" || first == "offset")
      return fail(start, "expected a value, found '" + first + "'");
    if (first == "true" || first == "false") {
      out = Ast{};
      out.kind = Ast::Kind::kBool;
      out.offset = start;
      out.boolean = first == "true";
      return advance();
    }
    if (!advance()) return false;
    if (is_punct("(")) return parse_call(first, start, out);
    out = Ast{};
    out.kind = Ast::Kind::kPath;
    out.offset = start;
    out.segments.push_back(first);
    out.segment_offsets.push_back(start);
    out.text = first;
    while (is_punct(".")) {
      if (!advance()) return false;
      if (tok_.kind != Token::Kind::kIdent)
        return fail(tok_.offset, "expected a name after '.', found " + describe(tok_));
      out.segments.push_back(tok_.text);
      out.segment_offsets.push_back(tok_.offset);
      out.text += '.';
      out.text += tok_.text;
      if (!advance()) return false;
    }
    return true;
  }

  bool parse_call(const std::string& name, std::size_t start, Ast& out) {
    Ast call;
    call.kind = Ast::Kind::kCall;
    call.offset = start;
    call.text = name;
    if (!advance()) return false;  // '('
    if (!is_punct(")")) {
      for (;;) {
        Ast arg;
        if (call.args.empty() && takes_selector(name)) {
          if ((name == "min" || name == "max") && tok_.kind != Token::Kind::kIdent)
            return fail(tok_.offset, name + "() is the " +
                                         (name == "min" ? "smallest" : "largest") +
                                         " value of a field in a window, e.g. " + name +
                                         "(support.csat.score, 90d); for two values use " +
                                         (name == "min" ? "least(a, b)" : "greatest(a, b)"));
          if (!parse_selector(arg)) return false;
        } else if (!parse_or(arg)) {
          return false;
        }
        call.args.push_back(std::move(arg));
        if (is_punct(",")) {
          if (!advance()) return false;
          // `14d, offset 28d` is accepted as well as `14d offset 28d`.
          if (is_keyword("offset") && !call.args.empty() &&
              call.args.back().kind == Ast::Kind::kDuration) {
            if (!parse_offset(call.args.back())) return false;
            if (is_punct(",")) {
              if (!advance()) return false;
              continue;
            }
            break;
          }
          continue;
        }
        break;
      }
    }
    if (!expect(")", "to close the arguments of " + name + "()")) return false;
    out = std::move(call);
    return true;
  }

  // type{preds} or type.field{preds}
  bool parse_selector(Ast& out) {
    if (tok_.kind != Token::Kind::kIdent)
      return fail(tok_.offset,
                  "expected an event type such as sales.order, found " + describe(tok_));
    if (!parse_name(out)) return false;
    if (out.kind != Ast::Kind::kPath)
      return fail(out.offset, "expected an event type such as sales.order");
    if (!is_punct("{")) return true;
    out.has_braces = true;
    if (!advance()) return false;
    while (!is_punct("}")) {
      AstPredicate p;
      if (tok_.kind != Token::Kind::kIdent)
        return fail(tok_.offset, "expected a field name in the filter, found " + describe(tok_));
      p.field = tok_.text;
      p.field_offset = tok_.offset;
      if (!advance()) return false;
      using Op = model::Predicate::Op;
      static constexpr std::pair<std::string_view, Op> kOps[] = {{"==", Op::kEq}, {"!=", Op::kNe},
                                                                 {"<", Op::kLt},  {"<=", Op::kLe},
                                                                 {">", Op::kGt},  {">=", Op::kGe}};
      bool found = false;
      for (const auto& [text, op] : kOps) {
        if (is_punct(text)) {
          p.op = op;
          found = true;
        }
      }
      if (!found)
        return fail(tok_.offset, "expected a comparison (== != < <= > >=) after '" + p.field +
                                     "' in the filter");
      if (!advance()) return false;
      p.value_offset = tok_.offset;
      bool negative = false;
      if (is_punct("-")) {
        negative = true;
        if (!advance()) return false;
      }
      if (tok_.kind == Token::Kind::kNumber) {
        p.value = model::FieldValue::of_number(negative ? -tok_.number : tok_.number);
      } else if (!negative && tok_.kind == Token::Kind::kString) {
        p.value = model::FieldValue::of_string(tok_.text);
      } else if (!negative && (is_keyword("true") || is_keyword("false"))) {
        p.value = model::FieldValue::of_bool(tok_.text == "true");
      } else {
        return fail(tok_.offset,
                    "a filter compares a field with a literal number, \"string\", "
                    "true or false; found " +
                        describe(tok_));
      }
      if (!advance()) return false;
      out.predicates.push_back(std::move(p));
      if (is_punct(",")) {
        if (!advance()) return false;
        continue;
      }
      if (!is_punct("}"))
        return fail(tok_.offset, "expected ',' or '}' in the filter, found " + describe(tok_));
    }
    return advance();  // '}'
  }

  static constexpr int kMaxDepth = 200;
  std::string_view src_;
  std::size_t pos_ = 0;
  int depth_ = 0;
  int unary_ = 0;
  static constexpr int kMaxOperators = 2000;
  int operators_ = 0;
  Token tok_;
  ParseError error_;
};

}  // namespace

const char* binop_text(BinOp op) {
  switch (op) {
    case BinOp::kAdd:
      return "+";
    case BinOp::kSub:
      return "-";
    case BinOp::kMul:
      return "*";
    case BinOp::kDiv:
      return "/";
    case BinOp::kLt:
      return "<";
    case BinOp::kLe:
      return "<=";
    case BinOp::kGt:
      return ">";
    case BinOp::kGe:
      return ">=";
    case BinOp::kEq:
      return "==";
    case BinOp::kNe:
      return "!=";
    case BinOp::kAnd:
      return "and";
    case BinOp::kOr:
      return "or";
  }
  return "?";
}

bool takes_selector(std::string_view f) {
  static constexpr std::string_view kNames[] = {
      "count", "sum", "avg", "min", "max", "last", "distinct", "since", "latest", "slope", "ewma"};
  for (std::string_view n : kNames)
    if (n == f) return true;
  return false;
}

ParseResult parse_expression(std::string_view text) { return Parser(text).run(); }

}  // namespace kamwatch::rules::detail
