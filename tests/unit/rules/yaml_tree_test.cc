// The position-annotated YAML tree the rule reader works on (config/yaml_tree.h).
#include "config/yaml_tree.h"

#include <gtest/gtest.h>

namespace kamwatch::config {
namespace {

TEST(YamlTree, KeepsDocumentOrderAndPositions) {
  const YamlParseResult r = parse_yaml("b: 1\na:\n  - x\n  - {k: 'v w'}\nc:\n");
  ASSERT_FALSE(r.error) << r.error->message;
  const YamlNode& root = r.doc.root();
  ASSERT_TRUE(root.is_map());
  ASSERT_EQ(root.keys.size(), 3u);
  EXPECT_EQ(root.keys[0].text, "b");
  EXPECT_EQ(root.keys[1].text, "a");
  EXPECT_EQ(root.keys[1].pos.line, 2);
  EXPECT_EQ(root.keys[1].pos.col, 1);
  const YamlNode* a = root.find("a");
  ASSERT_NE(a, nullptr);
  ASSERT_TRUE(a->is_seq());
  const YamlNode& item = a->children[1];
  ASSERT_TRUE(item.is_map());
  EXPECT_EQ(item.pos.line, 4);
  EXPECT_EQ(item.pos.col, 5);
  const YamlNode* v = item.find("k");
  ASSERT_NE(v, nullptr);
  EXPECT_EQ(v->text, "v w");
  EXPECT_EQ(v->style, YamlNode::Style::kSingleQuoted);
  EXPECT_EQ(v->pos.col, 9);
  // A missing value is null, positioned at its key.
  const YamlNode* c = root.find("c");
  ASSERT_NE(c, nullptr);
  EXPECT_TRUE(c->is_null());
  EXPECT_EQ(c->pos.line, 5);
}

TEST(YamlTree, LocatesCharactersInsideScalars) {
  const YamlParseResult r = parse_yaml(
      "p: ab cd\n"
      "d: \"a\\\"b c\"\n"
      "s: 'it''s x'\n"
      "f: >\n"
      "  one\n"
      "  two\n");
  ASSERT_FALSE(r.error);
  const YamlNode& root = r.doc.root();
  auto at = [&](const char* key, std::size_t i) {
    const YamlPos p = r.doc.locate(*root.find(key), i);
    return std::to_string(p.line) + ":" + std::to_string(p.col);
  };
  EXPECT_EQ(at("p", 3), "1:7");   // 'c'
  EXPECT_EQ(at("d", 4), "2:10");  // 'c' after the escaped quote
  EXPECT_EQ(at("s", 5), "3:11");  // 'x' after the doubled quote
  EXPECT_EQ(root.find("f")->text, "one two\n");
  EXPECT_EQ(at("f", 4), "6:3");  // 't' of two
}

TEST(YamlTree, ExpandsAliases) {
  const YamlParseResult r = parse_yaml("a: &l {signal: churn}\nb: *l\n");
  ASSERT_FALSE(r.error);
  const YamlNode* b = r.doc.root().find("b");
  ASSERT_NE(b, nullptr);
  ASSERT_TRUE(b->is_map());
  EXPECT_EQ(b->find("signal")->text, "churn");
}

TEST(YamlTree, ReportsErrorsWithPositions) {
  YamlParseResult dup = parse_yaml("a: 1\nb: 2\na: 3\n");
  ASSERT_TRUE(dup.error);
  EXPECT_EQ(dup.error->pos.line, 3);
  EXPECT_EQ(dup.error->pos.col, 1);
  EXPECT_EQ(dup.error->message, "duplicate key 'a' (first at line 1, column 1)");

  YamlParseResult bad = parse_yaml("a: [1, 2\n");
  ASSERT_TRUE(bad.error);
  EXPECT_GT(bad.error->pos.line, 0);

  YamlParseResult two = parse_yaml("a: 1\n---\nb: 2\n");
  ASSERT_TRUE(two.error);
  EXPECT_EQ(two.error->pos.line, 2);

  EXPECT_TRUE(parse_yaml("").doc.root().is_null());
}

}  // namespace
}  // namespace kamwatch::config
