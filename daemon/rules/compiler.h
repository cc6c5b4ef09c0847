#pragma once
// Compiler stage of the loader: parses expression text, resolves names (derived values,
// account attributes, event types and fields against the catalog), checks types, and emits
// program nodes. Every problem becomes a Diagnostic with the position of the offending token.
// Thread-safety: one Compiler per compilation, on the loading thread.
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "config/yaml_tree.h"
#include "model/series_spec.h"
#include "rules/ast.h"
#include "rules/program.h"
#include "rules/rules.h"

namespace kamwatch::rules::detail {

// Errors and warnings of one load, in the order found.
struct Diagnostics {
  std::vector<Diagnostic> errors;
  std::vector<Diagnostic> warnings;
  void error(SourcePos pos, std::string message) {
    errors.push_back({std::move(pos), std::move(message)});
  }
  void warn(SourcePos pos, std::string message) {
    warnings.push_back({std::move(pos), std::move(message)});
  }
};

// A piece of expression (or template) text and where it sits in a file, so that a byte offset
// into the text becomes file:line:col.
struct Located {
  std::string text;
  std::shared_ptr<const std::string> file;
  const config::YamlDocument* doc = nullptr;
  const config::YamlNode* node = nullptr;  // the scalar holding the text
  std::size_t base = 0;                    // offset of text within the scalar's value

  [[nodiscard]] SourcePos at(std::size_t offset) const;
  [[nodiscard]] Located slice(std::size_t offset, std::size_t length) const;
};

// A named expression under `derived:`, parsed and type-checked once at its definition and
// inlined (compiled again in the using rule's context, e.g. grouped) wherever it is used.
struct DerivedDef {
  std::string name;
  SourcePos pos;
  Located expr;
  Ast ast;
  bool ok = false;  // parsed and type-checked; uses of a broken one report nothing more
  Type type = Type::kNumber;
};

struct CompileContext {
  std::string what;                 // "alert UsageDrop", "measure usage", for messages
  std::string by;                   // the rule's `by` field; "" = ungrouped
  bool allow_group = false;         // `group` may be used
  bool allow_health = true;         // account.health* may be used (not inside the scorecard)
  std::size_t visible_derived = 0;  // derived values [0, n) may be referenced
  // Names bound in templates (`value`, evidence names) -> slot index is the position.
  const std::vector<std::pair<std::string, Type>>* slots = nullptr;
};

// Names the language knows: event types (catalog + declared custom types) and derived values.
struct Names {
  std::set<std::string, std::less<>> custom_types;
  std::vector<DerivedDef> derived;
};

class Compiler {
 public:
  Compiler(Program& program, const Names& names, CompileContext context, Diagnostics& diags);

  // Parses and compiles `where.text`. When expect is set, the result must have that type
  // (kAny results pass). `role` names the key for messages ("expr", "resolve"). Returns the
  // root node, or -1 after reporting errors.
  std::int32_t compile_text(const Located& where, std::optional<Type> expect,
                            std::string_view role);
  // Compiles an already parsed tree.
  std::int32_t compile(const Ast& ast, const Located& where);
  // Type of a compiled node.
  [[nodiscard]] Type type_of(std::int32_t node) const;

  // What the compiled code reads.
  std::vector<model::SeriesSpec> specs;
  std::set<std::string> types_read;
  std::set<std::string> grouped_keys;  // derived keys of grouped selectors: the result groups
  bool reads_health = false;
  bool reads_health_trend = false;

 private:
  std::int32_t node(const Ast& a, const Located& w);
  std::int32_t name(const Ast& a, const Located& w);
  std::int32_t account_attribute(const Ast& a, const Located& w);
  std::int32_t binary(const Ast& a, const Located& w);
  std::int32_t call(const Ast& a, const Located& w);
  std::int32_t aggregate(const Ast& a, const Located& w);
  std::int32_t derived_ref(std::size_t index);
  std::int32_t error(const Located& w, std::size_t offset, std::string message);
  bool arity(const Ast& a, const Located& w, std::size_t n, std::string_view usage);

  Program& program_;
  const Names& names_;
  CompileContext ctx_;
  Diagnostics& diags_;
  std::map<std::size_t, std::int32_t> inlined_;  // derived index -> node
  int inlining_ = 0;                             // > 0 while compiling a derived value's tree
};

// Helpers shared with the reader.
[[nodiscard]] bool is_identifier(std::string_view s);
[[nodiscard]] bool is_reserved_name(std::string_view s);
// "did you mean X?" suffix (with a leading space) for the closest candidate, or "".
[[nodiscard]] std::string did_you_mean(std::string_view word,
                                       const std::vector<std::string>& candidates);

}  // namespace kamwatch::rules::detail
