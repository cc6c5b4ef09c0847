#pragma once
// A small YAML document tree with the source position of every node and map key, so modules
// that read YAML (rule files) can report file:line:col without including yaml-cpp: yaml-cpp
// stays inside the config module. Control plane: allocates freely.
// Thread-safety: a parsed YamlDocument is an immutable value; share by const reference.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace kamwatch::config {

struct YamlPos {
  int line = 0;  // 1-based; 0 = unknown
  int col = 0;   // 1-based, in bytes
};

struct YamlNode {
  enum class Kind : std::uint8_t { kNull, kScalar, kMap, kSeq };
  // How a scalar was written; decides how a character of text maps back to the source.
  enum class Style : std::uint8_t { kPlain, kSingleQuoted, kDoubleQuoted, kLiteral, kFolded };

  Kind kind = Kind::kNull;
  Style style = Style::kPlain;
  std::string text;                // scalar value (after unquoting, unescaping and folding)
  YamlPos pos;                     // first character of the node (the quote of a quoted scalar)
  std::size_t offset = 0;          // byte offset of that character in the source
  std::vector<YamlNode> keys;      // kMap: keys, in document order
  std::vector<YamlNode> children;  // kMap: values (parallel to keys); kSeq: items

  [[nodiscard]] bool is_null() const { return kind == Kind::kNull; }
  [[nodiscard]] bool is_scalar() const { return kind == Kind::kScalar; }
  [[nodiscard]] bool is_map() const { return kind == Kind::kMap; }
  [[nodiscard]] bool is_seq() const { return kind == Kind::kSeq; }
  [[nodiscard]] bool quoted() const {
    return style == Style::kSingleQuoted || style == Style::kDoubleQuoted;
  }
  // kMap: the value under a scalar key, or nullptr.
  [[nodiscard]] const YamlNode* find(std::string_view key) const;
};

class YamlDocument {
 public:
  YamlDocument() = default;
  YamlDocument(std::shared_ptr<const std::string> source, YamlNode root);

  [[nodiscard]] const YamlNode& root() const { return root_; }
  // Source position of byte `index` of a scalar's text: accounts for the quoting style,
  // escapes, line folding and block indentation. Best effort for exotic escapes.
  [[nodiscard]] YamlPos locate(const YamlNode& scalar, std::size_t index) const;
  // Line and column of a byte offset in the source.
  [[nodiscard]] YamlPos pos_of_offset(std::size_t offset) const;

 private:
  std::shared_ptr<const std::string> source_;
  std::vector<std::size_t> line_starts_;
  YamlNode root_;
};

struct YamlError {
  YamlPos pos;
  std::string message;
};

struct YamlParseResult {
  YamlDocument doc;                // valid when error is empty
  std::optional<YamlError> error;  // syntax error, duplicate key, or more than one document
};

// Parses one YAML document (an empty text gives a kNull root). Anchors and aliases are
// expanded; duplicate keys in a mapping are an error. Never throws.
[[nodiscard]] YamlParseResult parse_yaml(std::string_view text);

}  // namespace kamwatch::config
