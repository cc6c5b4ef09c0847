#pragma once
// Small, dependency-free SVG charts for the HTML reports: a line chart (with optional
// horizontal background bands) and a bar chart (vertical or horizontal, grouped or stacked,
// diverging around zero). Every chart is one `<svg class="chart ...">` element with a <title>,
// inline attributes only (no CSS or fonts from elsewhere), all text HTML-escaped, suitable
// for inlining in HTML5 (no xmlns needed there). Every point and bar carries a <title>
// tooltip "label: value".
// Thread-safety: pure functions.
#include <cmath>
#include <string>
#include <vector>

namespace kamwatch::report::svg {

struct Series {
  std::string name;
  std::vector<double> values;  // one per x position / category; NaN = no value (a gap)
  std::string color = "#3b6ea5";
  std::vector<std::string> point_colors;  // line charts: colour per point (empty = color)
  std::string negative_color;             // bar charts: bars below zero (empty = color)
};

// A horizontal background band of a line chart, in y units, e.g. the red/yellow/green bands
// of a score.
struct Band {
  double from = 0;
  double to = 0;
  std::string color;
  std::string label;
};

struct LineChart {
  std::string title;                  // <title> and aria-label
  std::vector<std::string> x_labels;  // one per point; thinned to max_x_labels when drawn
  std::vector<Series> series;
  std::vector<Band> bands;
  double y_min = NAN;  // NaN: from the data (and 0 when zero_based)
  double y_max = NAN;
  bool zero_based = true;
  int decimals = 0;     // of the values in tooltips
  std::string unit;     // appended to values in tooltips, e.g. "%" or " users"
  double min_step = 0;  // smallest tick step, e.g. 1 for counts
  int width = 720;
  int height = 260;
  int max_x_labels = 9;
  bool legend = false;  // also drawn whenever there are two or more series
};
[[nodiscard]] std::string line_chart(const LineChart& chart);

struct BarChart {
  std::string title;
  std::vector<std::string> categories;  // x positions (vertical) or rows (horizontal)
  std::vector<Series> series;           // side by side, or stacked
  bool stacked = false;
  bool horizontal = false;    // rows of bars from a zero line: diverging when values are < 0
  bool value_labels = false;  // print each bar's value next to it
  int decimals = 0;
  std::string unit;
  double min_step = 0;  // smallest tick step, e.g. 1 for counts
  int width = 720;
  int height = 0;  // 0: 260 (vertical), or 26 px per category (horizontal)
  int max_x_labels = 13;
  bool legend = false;  // also drawn whenever there are two or more series
};
[[nodiscard]] std::string bar_chart(const BarChart& chart);

// An axis range widened to "nice" round numbers and its ticks (steps of 1, 2, 2.5 or 5 x 10^k).
// lo == hi is widened around the value; fixed_lo/fixed_hi keep that end exactly; the step is
// at least min_step (e.g. 1 for counts).
struct Scale {
  double lo = 0;
  double hi = 1;
  double step = 1;
  std::vector<double> ticks;
};
[[nodiscard]] Scale nice_scale(double lo, double hi, int max_ticks = 5, bool fixed_lo = false,
                               bool fixed_hi = false, double min_step = 0);

}  // namespace kamwatch::report::svg
