#pragma once
// Internal to daemon/report: the scaffolding every chart of svg.cc and svg_charts.cc is drawn
// with: the <svg> frame and its "No data" form, text and lines, the value axis (tick decimals,
// the margin its labels need, the grid), x-label thinning and fitting, legend entries.
// Thread-safety: pure functions.
#include <cstddef>
#include <string>
#include <string_view>

#include "report/html.h"
#include "report/svg.h"

namespace kamwatch::report::svg::detail {

inline constexpr const char* kTextColor = "#555";
inline constexpr const char* kGridColor = "#e3e3e3";
inline constexpr const char* kAxisColor = "#888";

// A coordinate (format_coord).
[[nodiscard]] std::string c(double v);

// Smallest number of decimals that shows every multiple of step exactly (up to 6).
[[nodiscard]] int decimals_for(double step);
// At most max_chars code points, "…" marking a cut.
[[nodiscard]] std::string truncate_label(std::string_view s, std::size_t max_chars);
// Code points in s.
[[nodiscard]] std::size_t label_chars(std::string_view s);
// Approximate width of a label at font-size 11.
[[nodiscard]] double text_width(std::string_view s);
// x of a centred label moved inside [0, width] when it would stick out.
[[nodiscard]] double fit_x(double x, std::string_view label, double width);
// Left margin that fits the y tick labels.
[[nodiscard]] double left_margin(const Scale& s, int decimals);
// Every label_step-th of n x labels is drawn, so that at most max_labels are (at least 1).
[[nodiscard]] std::size_t label_step(std::size_t n, int max_labels);
// How many characters fit under every label_step-th slot of slot px (at least 3).
[[nodiscard]] std::size_t label_chars_for(double slot, std::size_t step);

// `<svg class="chart kind" ...><title>title</title>` (the caller closes it).
void open_svg(std::string& out, std::string_view kind, int w, int h, std::string_view title);
// A text element (s escaped) with an optional class.
void text(std::string& out, double x, double y, std::string_view s, std::string_view anchor,
          std::string_view cls = "");
// A line, dashed when dash (a stroke-dasharray) is not empty.
void line(std::string& out, double x1, double y1, double x2, double y2, std::string_view color,
          double width = 1, std::string_view dash = "");
// A whole chart that says "No data".
[[nodiscard]] std::string no_data_svg(std::string_view kind, int w, int h, std::string_view title);
// One legend entry, a colour swatch and the label (cut at max_chars) at baseline y; returns
// the x of the next entry.
double legend_entry(std::string& out, double x, double y, std::string_view color,
                    std::string_view label, std::size_t max_chars = 32);

// A horizontal grid line and a tick label left of the plot at each of s's ticks, from left to
// left + width, at y = py(tick).
template <typename Y>
void y_grid(std::string& out, const Scale& s, int decimals, double left, double width, Y py) {
  for (double t : s.ticks) {
    line(out, left, py(t), left + width, py(t), kGridColor);
    text(out, left - 6, py(t) + 4, format_number(t, decimals), "end");
  }
}

}  // namespace kamwatch::report::svg::detail
