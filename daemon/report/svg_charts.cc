#include "report/svg_charts.h"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <string_view>

#include "report/figures.h"
#include "report/html.h"
#include "report/svg.h"
#include "report/svg_detail.h"

namespace kamwatch::report::svg {

using namespace detail;

std::string timeline_chart(const TimelineChart& chart) {
  const int w = chart.width;
  const std::size_t n = chart.rows.size();
  const bool show_legend = !chart.spans.empty();
  const double top = show_legend ? 28 : 8;
  const double bottom = 24;
  const double rh = std::max(10, chart.row_height);
  const int h =
      static_cast<int>(top + bottom + rh * static_cast<double>(std::max<std::size_t>(n, 1)));
  if (n == 0 || chart.to <= chart.from) return no_data_svg("timeline-chart", w, h, chart.title);

  std::size_t longest = 4;
  for (const TimelineRow& r : chart.rows)
    longest = std::max(longest, label_chars(truncate_label(r.label, 36)));
  const double left =
      (chart.label_width > 0 ? std::min(w * 0.6, static_cast<double>(chart.label_width))
                             : std::min(w * 0.4, 10 + 6.2 * static_cast<double>(longest))) +
      8;
  const double right = 16;
  const double pw = w - left - right;
  const double ph = rh * static_cast<double>(n);
  const double span_ms = static_cast<double>(chart.to - chart.from);
  const auto px = [&](TimeMs t) {
    const TimeMs tc = std::clamp(t, chart.from, chart.to);
    return left + pw * static_cast<double>(tc - chart.from) / span_ms;
  };

  std::string out;
  open_svg(out, "timeline-chart", w, h, chart.title);
  out += "<g class=\"spans\">";
  for (const Span& s : chart.spans) {
    if (s.to <= chart.from || s.from >= chart.to) continue;
    const double x0 = px(s.from);
    const double x1 = std::max(px(s.to), x0 + 1);
    out += "<rect class=\"span\" x=\"" + c(x0) + "\" y=\"" + c(top) + "\" width=\"" + c(x1 - x0) +
           "\" height=\"" + c(ph) + "\" fill=\"" + escape(s.color) + "\"><title>" +
           escape(s.label) + "</title></rect>";
  }
  // Month ticks (the first day of each month in the range), thinned to max_x_labels.
  out += "</g><g class=\"grid\">";
  const CivilDate first = civil_from_days(floor_to(chart.from, kDayMs) / kDayMs);
  const CivilDate last = civil_from_days(floor_to(chart.to, kDayMs) / kDayMs);
  const int months =
      static_cast<int>((last.year - first.year) * 12 + static_cast<std::int64_t>(last.month) -
                       static_cast<std::int64_t>(first.month)) +
      1;
  const std::vector<Period> periods = months_ending(chart.to, months);
  const std::size_t step = label_step(periods.size(), chart.max_x_labels);
  for (std::size_t i = 0; i < periods.size(); ++i) {
    const TimeMs t = periods[i].start;
    if (t < chart.from) continue;
    const double x = px(t);
    line(out, x, top, x, top + ph, kGridColor);
    if ((periods.size() - 1 - i) % step == 0)
      text(out, fit_x(x, periods[i].label, w), top + ph + 16, periods[i].label, "middle");
  }
  for (std::size_t i = 1; i < n; ++i)
    line(out, left, top + rh * static_cast<double>(i), left + pw, top + rh * static_cast<double>(i),
         "#f0f0f0");
  line(out, left, top + ph, left + pw, top + ph, kAxisColor);
  out += "</g><g class=\"y-labels\">";
  for (std::size_t i = 0; i < n; ++i)
    text(out, left - 8, top + rh * (static_cast<double>(i) + 0.5) + 4,
         truncate_label(chart.rows[i].label, 36), "end");
  out += "</g><g class=\"intervals\">";
  const double bh = rh * 0.6;
  for (std::size_t i = 0; i < n; ++i) {
    const TimelineRow& r = chart.rows[i];
    const double y = top + rh * static_cast<double>(i) + (rh - bh) / 2;
    for (const Interval& iv : r.intervals) {
      if (iv.to < chart.from || iv.from > chart.to || iv.to < iv.from) continue;
      const double x0 = px(iv.from);
      const double x1 = std::max(px(iv.to), x0 + 2);  // instants stay visible
      out += "<rect class=\"interval";
      if (iv.open_ended) out += " open";
      out += "\" x=\"" + c(x0) + "\" y=\"" + c(y) + "\" width=\"" + c(x1 - x0) + "\" height=\"" +
             c(bh) + "\" rx=\"2\" fill=\"" + escape(iv.color.empty() ? r.color : iv.color) + "\"";
      if (iv.open_ended) out += " fill-opacity=\"0.75\"";
      out += "><title>" + escape(iv.tooltip) + "</title></rect>";
    }
  }
  out += "</g>";
  if (show_legend) {
    double x = left;
    for (const Span& s : chart.spans) x = legend_entry(out, x, 16, s.color, s.label, 96);
  }
  out += "</svg>";
  return out;
}

std::string pareto_chart(const ParetoChart& chart) {
  const int w = chart.width;
  const int h = chart.height;
  const std::size_t n = chart.values.size();
  double total = 0;
  double hi = 0;
  for (double v : chart.values)
    if (std::isfinite(v) && v > 0) {
      total += v;
      hi = std::max(hi, v);
    }
  if (n == 0 || total <= 0) return no_data_svg("pareto-chart", w, h, chart.title);

  const Scale s = nice_scale(0, hi, 5, true, false);
  const int tick_decimals = decimals_for(s.step);
  const double left = left_margin(s, tick_decimals);
  const double right = 44;
  const double top = 28;
  const double bottom = 24;
  const double pw = w - left - right;
  const double ph = h - top - bottom;
  const auto py = [&](double v) { return top + ph * (1 - (v - s.lo) / (s.hi - s.lo)); };
  const auto py_share = [&](double share) { return top + ph * (1 - share); };
  const double slot = pw / static_cast<double>(n);
  const double bw = std::max(1.0, slot * 0.8 - (slot > 4 ? 1 : 0));

  std::string out;
  open_svg(out, "pareto-chart", w, h, chart.title);
  out += "<g class=\"grid\">";
  y_grid(out, s, tick_decimals, left, pw, py);
  for (int k = 0; k <= 4; ++k) {
    const double share = k / 4.0;
    text(out, left + pw + 6, py_share(share) + 4, format_percent(share, 0), "start", "share");
  }
  out += "</g><g class=\"bars\">";
  for (std::size_t i = 0; i < n; ++i) {
    const double v = chart.values[i];
    if (!std::isfinite(v) || v <= 0) continue;
    const double x = left + slot * static_cast<double>(i) + (slot - bw) / 2;
    const std::string& color =
        i < chart.colors.size() && !chart.colors[i].empty() ? chart.colors[i] : chart.color;
    const std::string label = i < chart.categories.size() ? chart.categories[i] : "";
    out += "<rect class=\"bar\" x=\"" + c(x) + "\" y=\"" + c(py(v)) + "\" width=\"" + c(bw) +
           "\" height=\"" + c(py(0) - py(v)) + "\" fill=\"" + escape(color) + "\"><title>" +
           escape(label + ": " + format_number(v, chart.decimals) + chart.unit) + "</title></rect>";
  }
  out += "</g>";
  line(out, left, py(0), left + pw, py(0), kAxisColor);
  if (chart.reference > 0 && chart.reference <= 1) {
    const double y = py_share(chart.reference);
    line(out, left, y, left + pw, y, chart.curve_color, 1, "4 3");
    text(out, left + pw - 4, y - 4, format_percent(chart.reference, 0) + " of the total", "end",
         "reference");
  }
  // The cumulative share after each bar, at the bar's right edge.
  out += "<g class=\"curve\">";
  std::string d = "M" + c(left) + " " + c(py_share(0));
  std::string points;
  double cum = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const double v = chart.values[i];
    if (std::isfinite(v) && v > 0) cum += v;
    const double share = cum / total;
    const double x = left + slot * static_cast<double>(i + 1);
    d += "L" + c(x) + " " + c(py_share(share));
    const std::string label = i < chart.categories.size() ? chart.categories[i] : "";
    points += "<circle class=\"point\" cx=\"" + c(x) + "\" cy=\"" + c(py_share(share)) + "\" r=\"" +
              c(n > 60 ? 1.5 : 2.5) + "\" fill=\"" + escape(chart.curve_color) + "\"><title>" +
              escape(label + ": cumulative " + format_percent(share, 1) + " (" +
                     std::to_string(i + 1) + (i == 0 ? " account)" : " accounts)")) +
              "</title></circle>";
  }
  out += "<path class=\"line\" d=\"" + d + "\" fill=\"none\" stroke=\"" +
         escape(chart.curve_color) + "\" stroke-width=\"2\" stroke-linejoin=\"round\"/>" + points +
         "</g><g class=\"x-labels\">";
  const std::size_t step = label_step(n, chart.max_x_labels);
  const std::size_t max_chars = label_chars_for(slot, step);
  for (std::size_t i = 0; i < n && i < chart.categories.size(); i += step) {
    const std::string label = truncate_label(chart.categories[i], max_chars);
    text(out, fit_x(left + slot * (static_cast<double>(i) + 0.5), label, w), top + ph + 16, label,
         "middle");
  }
  out += "</g>";
  // Legend: bars and the curve.
  const double lx = legend_entry(out, left, 16, chart.color, chart.value_name);
  line(out, lx, 12, lx + 14, 12, chart.curve_color, 2);
  text(out, lx + 18, 16, "cumulative share", "start", "legend");
  out += "</svg>";
  return out;
}

}  // namespace kamwatch::report::svg
