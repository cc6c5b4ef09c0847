#include "config/yaml_tree.h"

#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/exceptions.h>
#include <yaml-cpp/mark.h>
#include <yaml-cpp/parser.h>

#include <algorithm>
#include <map>
#include <sstream>
#include <utility>

namespace kamwatch::config {
namespace {

YamlPos to_pos(const YAML::Mark& m) {
  if (m.is_null()) return {};
  return {m.line + 1, m.column + 1};
}

// Builds a YamlNode tree from yaml-cpp's parse events. Nodes under construction sit on a
// stack by value and are moved into their parent when complete.
class TreeBuilder : public YAML::EventHandler {
 public:
  explicit TreeBuilder(std::string_view source) : source_(source) {}

  void OnDocumentStart(const YAML::Mark& mark) override {
    if (++documents_ == 2) second_document_ = to_pos(mark);
  }
  void OnDocumentEnd() override {}

  void OnNull(const YAML::Mark& mark, YAML::anchor_t anchor) override {
    YamlNode n;
    n.kind = YamlNode::Kind::kNull;
    set_pos(n, mark);
    finish(std::move(n), anchor);
  }
  void OnAlias(const YAML::Mark& mark, YAML::anchor_t anchor) override {
    auto it = anchors_.find(anchor);
    YamlNode n = it == anchors_.end() ? YamlNode{} : it->second;
    set_pos(n, mark);
    finish(std::move(n), 0);
  }
  void OnScalar(const YAML::Mark& mark, const std::string&, YAML::anchor_t anchor,
                const std::string& value) override {
    YamlNode n;
    n.kind = YamlNode::Kind::kScalar;
    n.text = value;
    set_pos(n, mark);
    n.style = style_at(n.offset);
    finish(std::move(n), anchor);
  }
  void OnSequenceStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t anchor,
                       YAML::EmitterStyle::value) override {
    open(YamlNode::Kind::kSeq, mark, anchor);
  }
  void OnSequenceEnd() override { close(); }
  void OnMapStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t anchor,
                  YAML::EmitterStyle::value) override {
    open(YamlNode::Kind::kMap, mark, anchor);
  }
  void OnMapEnd() override { close(); }

  [[nodiscard]] int documents() const { return documents_; }
  [[nodiscard]] YamlPos second_document() const { return second_document_; }
  [[nodiscard]] std::optional<YamlError>& error() { return error_; }
  YamlNode take_root() { return std::move(root_); }

 private:
  struct Open {
    YamlNode node;
    YAML::anchor_t anchor;
  };

  void set_pos(YamlNode& n, const YAML::Mark& mark) {
    n.pos = to_pos(mark);
    n.offset = mark.pos < 0 ? 0 : static_cast<std::size_t>(mark.pos);
  }

  YamlNode::Style style_at(std::size_t offset) const {
    if (offset >= source_.size()) return YamlNode::Style::kPlain;
    switch (source_[offset]) {
      case '\'':
        return YamlNode::Style::kSingleQuoted;
      case '"':
        return YamlNode::Style::kDoubleQuoted;
      case '|':
        return YamlNode::Style::kLiteral;
      case '>':
        return YamlNode::Style::kFolded;
      default:
        return YamlNode::Style::kPlain;
    }
  }

  void open(YamlNode::Kind kind, const YAML::Mark& mark, YAML::anchor_t anchor) {
    YamlNode n;
    n.kind = kind;
    set_pos(n, mark);
    stack_.push_back({std::move(n), anchor});
  }

  void close() {
    if (stack_.empty()) return;
    Open top = std::move(stack_.back());
    stack_.pop_back();
    finish(std::move(top.node), top.anchor);
  }

  void finish(YamlNode n, YAML::anchor_t anchor) {
    if (anchor != 0) anchors_[anchor] = n;
    if (documents_ > 1) return;  // only the first document is kept
    if (stack_.empty()) {
      root_ = std::move(n);
      return;
    }
    YamlNode& parent = stack_.back().node;
    if (parent.kind == YamlNode::Kind::kSeq) {
      parent.children.push_back(std::move(n));
      return;
    }
    if (parent.keys.size() == parent.children.size()) {  // n is a key
      if (n.is_scalar() && !error_) {
        for (const YamlNode& k : parent.keys) {
          if (k.is_scalar() && k.text == n.text) {
            error_ = YamlError{n.pos, "duplicate key '" + n.text + "' (first at line " +
                                          std::to_string(k.pos.line) + ", column " +
                                          std::to_string(k.pos.col) + ")"};
            break;
          }
        }
      }
      parent.keys.push_back(std::move(n));
    } else {
      // A null value ("key:" with nothing after it) takes the key's position: yaml-cpp marks
      // it where the next token starts.
      if (n.is_null()) {
        n.pos = parent.keys.back().pos;
        n.offset = parent.keys.back().offset;
      }
      parent.children.push_back(std::move(n));
    }
  }

  std::string_view source_;
  std::vector<Open> stack_;
  std::map<YAML::anchor_t, YamlNode> anchors_;
  YamlNode root_;
  int documents_ = 0;
  YamlPos second_document_;
  std::optional<YamlError> error_;
};

bool is_blank(char c) { return c == ' ' || c == '\t'; }

unsigned long hex(char c) {
  if (c >= '0' && c <= '9') return static_cast<unsigned long>(c - '0');
  if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f')
    return static_cast<unsigned long>((c | 0x20) - 'a' + 10);
  return 0;
}

// Number of bytes the UTF-8 encoding of code point cp takes.
std::size_t utf8_len(unsigned long cp) {
  if (cp < 0x80) return 1;
  if (cp < 0x800) return 2;
  if (cp < 0x10000) return 3;
  return 4;
}

}  // namespace

const YamlNode* YamlNode::find(std::string_view key) const {
  if (kind != Kind::kMap) return nullptr;
  for (std::size_t i = 0; i < keys.size() && i < children.size(); ++i)
    if (keys[i].is_scalar() && keys[i].text == key) return &children[i];
  return nullptr;
}

YamlDocument::YamlDocument(std::shared_ptr<const std::string> source, YamlNode root)
    : source_(std::move(source)), root_(std::move(root)) {
  line_starts_.push_back(0);
  if (source_) {
    for (std::size_t i = 0; i < source_->size(); ++i)
      if ((*source_)[i] == '\n') line_starts_.push_back(i + 1);
  }
}

YamlPos YamlDocument::pos_of_offset(std::size_t offset) const {
  auto it = std::upper_bound(line_starts_.begin(), line_starts_.end(), offset);
  const std::size_t line = static_cast<std::size_t>(it - line_starts_.begin());  // 1-based
  return {static_cast<int>(line), static_cast<int>(offset - line_starts_[line - 1] + 1)};
}

YamlPos YamlDocument::locate(const YamlNode& scalar, std::size_t index) const {
  if (!source_ || scalar.offset >= source_->size()) return scalar.pos;
  const std::string& src = *source_;
  const std::string& value = scalar.text;
  const std::size_t n = src.size();
  std::size_t r = scalar.offset;
  using S = YamlNode::Style;
  const S style = scalar.style;
  const bool block = style == S::kLiteral || style == S::kFolded;
  std::size_t indent = 0;
  if (style == S::kSingleQuoted || style == S::kDoubleQuoted) {
    ++r;  // opening quote
  } else if (block) {
    while (r < n && src[r] != '\n') ++r;  // header line: | or > with indicators
    if (r < n) ++r;
    // Indentation of the block: that of its first non-empty line.
    std::size_t p = r;
    while (p < n) {
      std::size_t q = p;
      while (q < n && src[q] == ' ') ++q;
      if (q < n && src[q] != '\n') {
        indent = q - p;
        break;
      }
      p = q + 1;
    }
    for (std::size_t k = 0; k < indent && r < n && src[r] == ' '; ++k) ++r;
  }
  // Walks the value and the source together; r ends at the source byte of value[index].
  std::size_t i = 0;
  while (i < index && i < value.size() && r < n) {
    const char v = value[i];
    const char c = src[r];
    if (style == S::kDoubleQuoted && c == '\\' && r + 1 < n) {
      const char e = src[r + 1];
      if (e == '\n') {  // escaped line break: nothing in the value
        r += 2;
        while (r < n && is_blank(src[r])) ++r;
        continue;
      }
      std::size_t digits = e == 'x' ? 2 : e == 'u' ? 4 : e == 'U' ? 8 : 0;
      std::size_t produced = 1;
      if (digits > 0) {
        unsigned long cp = 0;
        for (std::size_t k = 0; k < digits && r + 2 + k < n; ++k)
          cp = cp * 16 + hex(src[r + 2 + k]);
        produced = e == 'x' ? 1 : utf8_len(cp);
      }
      r += 2 + digits;
      i += produced;
      continue;
    }
    if (style == S::kSingleQuoted && c == '\'' && r + 1 < n && src[r + 1] == '\'' && v == '\'') {
      r += 2;
      ++i;
      continue;
    }
    if (c == v && !(c == '\n' && !block)) {
      ++r;
      ++i;
      if (c == '\n' && block)
        for (std::size_t k = 0; k < indent && r < n && src[r] == ' '; ++k) ++r;
      continue;
    }
    if (c == '\n' || c == '\r') {
      // Line folding: one line break is a space in the value, k breaks are k-1 newlines.
      std::size_t breaks = 0;
      while (r < n && (src[r] == '\n' || src[r] == '\r' || is_blank(src[r]))) {
        if (src[r] == '\n') ++breaks;
        ++r;
      }
      if (block) {  // folded block: back up to the indentation of the next line
        while (r > 0 && src[r - 1] == ' ') --r;
        for (std::size_t k = 0; k < indent && r < n && src[r] == ' '; ++k) ++r;
      }
      const std::size_t produced = breaks <= 1 ? 1 : breaks - 1;
      i += (v == ' ' || v == '\n') ? produced : 0;
      continue;
    }
    ++r;  // trailing blanks before a break, and anything else the value does not show
  }
  return pos_of_offset(std::min(r, n));
}

YamlParseResult parse_yaml(std::string_view text) {
  auto source = std::make_shared<const std::string>(text);
  YamlParseResult out;
  TreeBuilder builder(*source);
  try {
    std::istringstream in(*source);
    YAML::Parser parser(in);
    while (parser.HandleNextDocument(builder)) {
      if (builder.documents() > 1) {
        out.error =
            YamlError{builder.second_document(), "expected one YAML document, found another"};
        return out;
      }
    }
  } catch (const YAML::Exception& e) {
    out.error = YamlError{to_pos(e.mark), e.msg};
    return out;
  } catch (const std::exception& e) {
    out.error = YamlError{{}, e.what()};
    return out;
  }
  if (builder.error()) {
    out.error = std::move(builder.error());
    return out;
  }
  out.doc = YamlDocument(std::move(source), builder.take_root());
  return out;
}

}  // namespace kamwatch::config
