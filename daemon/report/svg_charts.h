#pragma once
// Two more chart kinds for the HTML reports, in the style of svg.h (one `<svg class="chart
// ...">` with a <title>, inline attributes only, every text HTML-escaped, a <title> tooltip on
// every mark):
//  - timeline_chart: horizontal intervals on a time axis, one row per label (e.g. when each
//    rule was firing for an account), over optional background spans (e.g. a scenario window);
//  - pareto_chart: bars sorted by the caller (largest first) with the cumulative share curve on
//    a 0-100% right axis and a reference line (e.g. 80%).
// Thread-safety: pure functions.
#include <string>
#include <vector>

#include "core/time.h"

namespace kamwatch::report::svg {

struct Interval {
  TimeMs from = 0;
  TimeMs to = 0;            // clipped to the chart's range
  bool open_ended = false;  // still going at `to`: drawn with an arrow-less open right edge
  std::string tooltip;      // <title> of the bar
  std::string color;        // empty: the row's colour
};

struct TimelineRow {
  std::string label;
  std::vector<Interval> intervals;
  std::string color = "#3b6ea5";
};

// A background span across every row, e.g. a scenario's onset..outcome.
struct Span {
  TimeMs from = 0;
  TimeMs to = 0;
  std::string color = "#fde8c8";
  std::string label;  // <title> and legend text
};

struct TimelineChart {
  std::string title;
  TimeMs from = 0;  // x range; intervals outside it are clipped or dropped
  TimeMs to = 0;
  std::vector<TimelineRow> rows;
  std::vector<Span> spans;
  int width = 720;
  int row_height = 22;
  int max_x_labels = 8;  // month ticks, thinned
  int label_width = 0;   // of the row labels' column, px; 0: fits the labels (at most 40%)
};
// Empty rows or from >= to: a "No data" chart.
[[nodiscard]] std::string timeline_chart(const TimelineChart& chart);

struct ParetoChart {
  std::string title;
  std::vector<std::string> categories;  // one per bar, in the order drawn (largest first)
  std::vector<double> values;           // bars; values <= 0 or NaN add nothing to the curve
  std::vector<std::string> colors;      // per bar (empty entries / vector: color)
  std::string color = "#3b6ea5";
  std::string curve_color = "#e07a1f";
  double reference = 0.8;            // dashed line at this cumulative share (<= 0: none)
  int decimals = 0;                  // of the bar values in tooltips
  std::string unit;                  // appended to bar values in tooltips
  std::string value_name = "value";  // legend of the bars
  int width = 720;
  int height = 280;
  int max_x_labels = 12;
};
// No positive value: a "No data" chart.
[[nodiscard]] std::string pareto_chart(const ParetoChart& chart);

}  // namespace kamwatch::report::svg
