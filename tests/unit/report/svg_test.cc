#include "report/svg.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>

#include "test_util.h"

namespace kamwatch::report::svg {
namespace {

TEST(NiceScale, RoundsOutwardToNiceSteps) {
  const Scale s = nice_scale(3, 97, 5);
  EXPECT_EQ(s.lo, 0);
  EXPECT_EQ(s.hi, 100);
  EXPECT_EQ(s.step, 20);
  EXPECT_EQ(s.ticks, (std::vector<double>{0, 20, 40, 60, 80, 100}));
}

TEST(NiceScale, KeepsFixedEndsAndHandlesDegenerateRanges) {
  const Scale fixed = nice_scale(1, 5, 4, true, true);
  EXPECT_EQ(fixed.lo, 1);
  EXPECT_EQ(fixed.hi, 5);
  EXPECT_EQ(fixed.ticks, (std::vector<double>{1, 2, 3, 4, 5}));
  const Scale flat = nice_scale(0, 0);
  EXPECT_LT(flat.lo, flat.hi);
  const Scale one = nice_scale(7, 7);
  EXPECT_LE(one.lo, 7);
  EXPECT_GE(one.hi, 7);
  EXPECT_LT(one.lo, one.hi);
  const Scale neg = nice_scale(-3.2, 1.1);
  EXPECT_LE(neg.lo, -3.2);
  EXPECT_GE(neg.hi, 1.1);
  EXPECT_NE(std::find(neg.ticks.begin(), neg.ticks.end(), 0.0), neg.ticks.end());
  const Scale bad = nice_scale(NAN, INFINITY);
  EXPECT_EQ(bad.lo, 0);
  EXPECT_EQ(bad.hi, 1);
}

TEST(LineChart, OnePointPerFiniteValueWithGapsAndTooltips) {
  LineChart c;
  c.title = "Users";
  c.x_labels = {"w1", "w2", "w3", "w4", "w5"};
  c.series.push_back({"Users", {1, 2, NAN, 4, 5}, "#123456", {}, {}});
  const std::string svg = line_chart(c);
  EXPECT_EQ(svg.rfind("<svg class=\"chart line-chart\"", 0), 0u);
  EXPECT_NE(svg.find("<title>Users</title>"), std::string::npos);
  EXPECT_EQ(count(svg, "class=\"point\""), 4u);
  EXPECT_NE(svg.find("<title>w4: 4</title>"), std::string::npos);
  // The gap splits the line into two segments.
  const auto path = svg.find("<path class=\"line\" d=\"");
  ASSERT_NE(path, std::string::npos);
  const std::string d = svg.substr(path, svg.find('"', path + 23) - path);
  EXPECT_EQ(count(d, "M"), 2u);
  EXPECT_EQ(svg.substr(svg.size() - 6), "</svg>");
}

TEST(LineChart, BandsPointColoursAndLegend) {
  LineChart c;
  c.title = "Score";
  c.x_labels = {"a", "b"};
  c.series.push_back({"Score", {40, 80}, "#444", {"#red1", "#green1"}, {}});
  c.series.push_back({"Other", {50, 60}, "#555", {}, {}});
  c.bands = {{0, 50, "#fee", "red band"}, {50, 100, "#efe", "green band"}};
  c.y_min = 0;
  c.y_max = 100;
  const std::string svg = line_chart(c);
  EXPECT_EQ(count(svg, "<title>red band</title>"), 1u);
  EXPECT_EQ(count(svg, "<title>green band</title>"), 1u);
  EXPECT_NE(svg.find("fill=\"#red1\""), std::string::npos);
  EXPECT_NE(svg.find("fill=\"#green1\""), std::string::npos);
  EXPECT_NE(svg.find("class=\"legend\">Other</text>"), std::string::npos);
  EXPECT_NE(svg.find("Score \xE2\x80\x94 b: 80"), std::string::npos);
}

TEST(LineChart, NoDataWhenNothingIsFinite) {
  LineChart c;
  c.title = "Empty";
  c.series.push_back({"x", {NAN, NAN}, "#000", {}, {}});
  const std::string svg = line_chart(c);
  EXPECT_NE(svg.find(">No data</text>"), std::string::npos);
  EXPECT_NE(svg.find("<title>Empty</title>"), std::string::npos);
  EXPECT_EQ(count(svg, "class=\"point\""), 0u);
}

TEST(Charts, EscapeEveryText) {
  LineChart c;
  c.title = "<b>\"t\"</b>";
  c.x_labels = {"<x>"};
  c.series.push_back({"<s>", {1}, "\"><script>", {}, {}});
  c.legend = true;
  const std::string svg = line_chart(c);
  EXPECT_EQ(svg.find("<b>"), std::string::npos);
  EXPECT_EQ(svg.find("<x>"), std::string::npos);
  EXPECT_EQ(svg.find("<s>"), std::string::npos);
  EXPECT_EQ(svg.find("<script"), std::string::npos);
  EXPECT_NE(svg.find("&lt;b&gt;&quot;t&quot;&lt;/b&gt;"), std::string::npos);

  BarChart b;
  b.title = "<t>";
  b.categories = {"<c>"};
  b.series.push_back({"<s>", {1}, "#000", {}, {}});
  b.horizontal = true;
  const std::string bsvg = bar_chart(b);
  EXPECT_EQ(bsvg.find("<c>"), std::string::npos);
  EXPECT_EQ(bsvg.find("<t>"), std::string::npos);
}

TEST(BarChart, GroupedBarsOnePerFiniteValue) {
  BarChart c;
  c.title = "Tickets";
  c.categories = {"w1", "w2", "w3"};
  c.series.push_back({"opened", {1, 0, 3}, "#00f", {}, {}});
  c.series.push_back({"breaches", {NAN, 1, 2}, "#f00", {}, {}});
  const std::string svg = bar_chart(c);
  EXPECT_EQ(svg.rfind("<svg class=\"chart bar-chart\"", 0), 0u);
  EXPECT_EQ(count(svg, "class=\"bar\""), 5u);
  EXPECT_NE(svg.find("<title>opened \xE2\x80\x94 w3: 3</title>"), std::string::npos);
  EXPECT_NE(svg.find("class=\"legend\">breaches</text>"), std::string::npos);
}

TEST(BarChart, StackedBarsStackUp) {
  BarChart c;
  c.title = "Revenue";
  c.categories = {"Jan"};
  c.series.push_back({"a", {30}, "#00f", {}, {}});
  c.series.push_back({"b", {70}, "#0f0", {}, {}});
  c.stacked = true;
  c.height = 224;  // plot height 224 - 28 - 24 = 172 for the range 0..100
  const std::string svg = bar_chart(c);
  EXPECT_EQ(count(svg, "class=\"bar\""), 2u);
  // b sits on top of a: its bottom edge is a's top edge.
  EXPECT_NE(svg.find("y=\"148.4\" width"), std::string::npos) << svg;  // a: 28 + 172 * 0.7
  EXPECT_NE(svg.find("y=\"28\" width"), std::string::npos) << svg;     // b: top of the plot
}

TEST(BarChart, DivergingHorizontalUsesTheNegativeColour) {
  BarChart c;
  c.title = "Change";
  c.categories = {"usage", "support", "flat"};
  c.series.push_back({"change", {-4.5, 2, 0}, "#0a0", {}, "#a00"});
  c.horizontal = true;
  c.value_labels = true;
  c.decimals = 1;
  const std::string svg = bar_chart(c);
  EXPECT_EQ(svg.rfind("<svg class=\"chart bar-chart horizontal\"", 0), 0u);
  EXPECT_EQ(count(svg, "fill=\"#a00\""), 1u);
  EXPECT_EQ(count(svg, "fill=\"#0a0\""), 2u);
  EXPECT_NE(svg.find(">-4.5</text>"), std::string::npos);
  EXPECT_NE(svg.find(">support</text>"), std::string::npos);
}

TEST(BarChart, NoDataWithoutCategoriesOrValues) {
  BarChart c;
  c.title = "Nothing";
  EXPECT_NE(bar_chart(c).find(">No data</text>"), std::string::npos);
  c.categories = {"a"};
  c.series.push_back({"s", {NAN}, "#000", {}, {}});
  EXPECT_NE(bar_chart(c).find(">No data</text>"), std::string::npos);
}

}  // namespace
}  // namespace kamwatch::report::svg
