#include "report/svg.h"

#include <algorithm>
#include <cstddef>
#include <string_view>

#include "report/html.h"
#include "report/svg_detail.h"

namespace kamwatch::report::svg {

using namespace detail;

namespace {

void legend(std::string& out, const std::vector<Series>& series, double x, double y) {
  for (const Series& s : series) x = legend_entry(out, x, y, s.color, s.name);
}

std::string value_text(double v, int decimals, std::string_view unit) {
  return format_number(v, decimals) + std::string(unit);
}

std::string tooltip(const std::string& series, std::size_t count, const std::string& label,
                    double v, int decimals, std::string_view unit) {
  std::string t = label;
  if (count > 1 && !series.empty()) t = series + " \xE2\x80\x94 " + t;
  return t + ": " + value_text(v, decimals, unit);
}

}  // namespace

Scale nice_scale(double lo, double hi, int max_ticks, bool fixed_lo, bool fixed_hi,
                 double min_step) {
  Scale s;
  if (!std::isfinite(lo) || !std::isfinite(hi)) {
    lo = 0;
    hi = 1;
  }
  if (lo > hi) std::swap(lo, hi);
  if (lo == hi) {
    const double d = lo == 0 ? 1 : std::fabs(lo) * 0.1;
    if (!fixed_lo && lo != 0) lo -= d;
    if (!fixed_hi || lo == hi) hi += d;
  }
  max_ticks = std::max(2, max_ticks);
  const double raw = (hi - lo) / max_ticks;
  const double mag = std::pow(10.0, std::floor(std::log10(raw)));
  double step = 10 * mag;
  for (double f : {1.0, 2.0, 2.5, 5.0, 10.0}) {
    if (f * mag >= raw * (1 - 1e-9)) {
      step = f * mag;
      break;
    }
  }
  if (std::isfinite(min_step) && step < min_step) step = min_step;
  if (!fixed_lo) lo = std::floor(lo / step + 1e-9) * step;
  if (!fixed_hi) hi = std::ceil(hi / step - 1e-9) * step;
  s.lo = lo;
  s.hi = hi;
  s.step = step;
  for (double k = std::ceil(lo / step - 1e-9); k * step <= hi + step * 1e-9; k += 1) {
    double t = k * step;
    if (std::fabs(t) < step * 1e-9) t = 0;
    s.ticks.push_back(t);
  }
  return s;
}

std::string line_chart(const LineChart& chart) {
  const int w = chart.width;
  const int h = chart.height;
  std::size_t n = chart.x_labels.size();
  double lo = INFINITY;
  double hi = -INFINITY;
  for (const Series& s : chart.series) {
    n = std::max(n, s.values.size());
    for (double v : s.values) {
      if (!std::isfinite(v)) continue;
      lo = std::min(lo, v);
      hi = std::max(hi, v);
    }
  }
  if (n == 0 || !std::isfinite(lo)) return no_data_svg("line-chart", w, h, chart.title);
  if (chart.zero_based) {
    lo = std::min(lo, 0.0);
    hi = std::max(hi, 0.0);
  }
  if (std::isfinite(chart.y_min)) lo = chart.y_min;
  if (std::isfinite(chart.y_max)) hi = chart.y_max;
  const Scale s =
      nice_scale(lo, hi, 5, std::isfinite(chart.y_min), std::isfinite(chart.y_max), chart.min_step);
  const int tick_decimals = decimals_for(s.step);

  const bool show_legend = chart.legend || chart.series.size() >= 2;
  const double left = left_margin(s, tick_decimals);
  const double right = 24;
  const double top = show_legend ? 28 : 10;
  const double bottom = 24;
  const double pw = w - left - right;
  const double ph = h - top - bottom;
  const auto px = [&](std::size_t i) {
    return n == 1 ? left + pw / 2 : left + pw * static_cast<double>(i) / static_cast<double>(n - 1);
  };
  const auto py = [&](double v) {
    const double y = top + ph * (1 - (v - s.lo) / (s.hi - s.lo));
    return std::clamp(y, top, top + ph);
  };

  std::string out;
  open_svg(out, "line-chart", w, h, chart.title);
  out += "<g class=\"bands\">";
  for (const Band& b : chart.bands) {
    const double y0 = py(std::max(b.from, b.to));
    const double y1 = py(std::min(b.from, b.to));
    if (y1 <= y0) continue;
    out += "<rect x=\"" + c(left) + "\" y=\"" + c(y0) + "\" width=\"" + c(pw) + "\" height=\"" +
           c(y1 - y0) + "\" fill=\"" + escape(b.color) + "\"><title>" + escape(b.label) +
           "</title></rect>";
  }
  out += "</g><g class=\"grid\">";
  y_grid(out, s, tick_decimals, left, pw, py);
  line(out, left, top + ph, left + pw, top + ph, kAxisColor);
  out += "</g><g class=\"x-labels\">";
  const std::size_t step = label_step(n, chart.max_x_labels);
  for (std::size_t i = 0; i < n && i < chart.x_labels.size(); ++i) {
    if ((n - 1 - i) % step != 0) continue;
    const std::string label = truncate_label(chart.x_labels[i], 14);
    text(out, fit_x(px(i), label, w), top + ph + 16, label, "middle");
  }
  out += "</g>";

  for (const Series& ser : chart.series) {
    out += "<g class=\"series\">";
    std::string d;
    bool in_segment = false;
    for (std::size_t i = 0; i < ser.values.size(); ++i) {
      const double v = ser.values[i];
      if (!std::isfinite(v)) {
        in_segment = false;
        continue;
      }
      d += (in_segment ? "L" : "M") + c(px(i)) + " " + c(py(v));
      in_segment = true;
    }
    if (!d.empty())
      out += "<path class=\"line\" d=\"" + d + "\" fill=\"none\" stroke=\"" + escape(ser.color) +
             "\" stroke-width=\"2\" stroke-linejoin=\"round\"/>";
    const double r = n > 60 ? 2 : 3.5;
    for (std::size_t i = 0; i < ser.values.size(); ++i) {
      const double v = ser.values[i];
      if (!std::isfinite(v)) continue;
      const std::string& color = i < ser.point_colors.size() && !ser.point_colors[i].empty()
                                     ? ser.point_colors[i]
                                     : ser.color;
      const std::string label = i < chart.x_labels.size() ? chart.x_labels[i] : std::to_string(i);
      out += "<circle class=\"point\" cx=\"" + c(px(i)) + "\" cy=\"" + c(py(v)) + "\" r=\"" + c(r) +
             "\" fill=\"" + escape(color) + "\" stroke=\"#fff\" stroke-width=\"1\"><title>" +
             escape(tooltip(ser.name, chart.series.size(), label, v, chart.decimals, chart.unit)) +
             "</title></circle>";
    }
    out += "</g>";
  }
  if (show_legend) legend(out, chart.series, left, 16);
  out += "</svg>";
  return out;
}

std::string bar_chart(const BarChart& chart) {
  const std::size_t n = chart.categories.size();
  const std::size_t m = chart.series.size();
  const int w = chart.width;
  int h = chart.height;
  const bool show_legend = chart.legend || m >= 2;
  if (h <= 0)
    h = chart.horizontal ? static_cast<int>((show_legend ? 28 : 8) + 24 +
                                            26 * std::max<int>(2, static_cast<int>(n)))
                         : 260;

  // Each bar's extent [a, b] in value units; NaN when there is no bar.
  struct Bar {
    double a = NAN;
    double b = NAN;
    double v = NAN;
  };
  std::vector<std::vector<Bar>> bars(n, std::vector<Bar>(m));
  double lo = 0;
  double hi = 0;
  bool any = false;
  for (std::size_t i = 0; i < n; ++i) {
    double pos = 0;
    double neg = 0;
    for (std::size_t j = 0; j < m; ++j) {
      const auto& vals = chart.series[j].values;
      const double v = i < vals.size() ? vals[i] : NAN;
      if (!std::isfinite(v)) continue;
      any = true;
      Bar& bar = bars[i][j];
      bar.v = v;
      if (chart.stacked) {
        double& acc = v >= 0 ? pos : neg;
        bar.a = acc;
        bar.b = acc + v;
        acc += v;
      } else {
        bar.a = 0;
        bar.b = v;
      }
      lo = std::min({lo, bar.a, bar.b});
      hi = std::max({hi, bar.a, bar.b});
    }
  }
  const char* kind = chart.horizontal ? "bar-chart horizontal" : "bar-chart";
  if (n == 0 || m == 0 || !any) return no_data_svg(kind, w, h, chart.title);
  const Scale s = nice_scale(lo, hi, chart.horizontal ? 6 : 5, false, false, chart.min_step);
  const int tick_decimals = decimals_for(s.step);

  std::string out;
  open_svg(out, kind, w, h, chart.title);
  const auto color_of = [&](const Series& ser, double v) {
    return escape(v < 0 && !ser.negative_color.empty() ? ser.negative_color : ser.color);
  };
  const auto bar_title = [&](std::size_t i, std::size_t j) {
    return escape(tooltip(chart.series[j].name, m, chart.categories[i], bars[i][j].v,
                          chart.decimals, chart.unit));
  };

  if (!chart.horizontal) {
    const double left = left_margin(s, tick_decimals);
    const double right = 14;
    const double top = (show_legend ? 28 : 10) + (chart.value_labels ? 12 : 0);
    const double bottom = 24;
    const double pw = w - left - right;
    const double ph = h - top - bottom;
    const auto py = [&](double v) { return top + ph * (1 - (v - s.lo) / (s.hi - s.lo)); };
    const double slot = pw / static_cast<double>(n);
    const double group = slot * 0.8;
    const double bw = chart.stacked ? group : group / static_cast<double>(m);
    out += "<g class=\"grid\">";
    y_grid(out, s, tick_decimals, left, pw, py);
    out += "</g><g class=\"bars\">";
    for (std::size_t i = 0; i < n; ++i) {
      for (std::size_t j = 0; j < m; ++j) {
        const Bar& bar = bars[i][j];
        if (!std::isfinite(bar.v)) continue;
        const double x = left + slot * static_cast<double>(i) + (slot - group) / 2 +
                         (chart.stacked ? 0 : bw * static_cast<double>(j));
        const double y0 = std::min(py(bar.a), py(bar.b));
        const double y1 = std::max(py(bar.a), py(bar.b));
        out += "<rect class=\"bar\" x=\"" + c(x) + "\" y=\"" + c(y0) + "\" width=\"" +
               c(std::max(1.0, bw - 1)) + "\" height=\"" + c(y1 - y0) + "\" fill=\"" +
               color_of(chart.series[j], bar.v) + "\"><title>" + bar_title(i, j) +
               "</title></rect>";
        if (chart.value_labels && bar.v != 0)
          text(out, x + bw / 2, bar.v >= 0 ? y0 - 3 : y1 + 11, format_number(bar.v, chart.decimals),
               "middle", "value");
      }
    }
    out += "</g>";
    line(out, left, py(0), left + pw, py(0), kAxisColor);
    out += "<g class=\"x-labels\">";
    const std::size_t step = label_step(n, chart.max_x_labels);
    const std::size_t max_chars = label_chars_for(slot, step);
    for (std::size_t i = 0; i < n; ++i) {
      if ((n - 1 - i) % step != 0) continue;
      const std::string label = truncate_label(chart.categories[i], max_chars);
      text(out, fit_x(left + slot * (static_cast<double>(i) + 0.5), label, w), top + ph + 16, label,
           "middle");
    }
    out += "</g>";
    if (show_legend) legend(out, chart.series, left, 16);
  } else {
    std::size_t longest = 0;
    for (const std::string& cat : chart.categories)
      longest = std::max(longest, label_chars(truncate_label(cat, 30)));
    const double label_w =
        std::min(w * 0.4, 10 + 6.2 * static_cast<double>(std::max<std::size_t>(longest, 4)));
    const double left = label_w + 8;
    const double right = chart.value_labels ? 56 : 16;
    const double top = show_legend ? 28 : 8;
    const double bottom = 24;
    const double pw = w - left - right;
    const double ph = h - top - bottom;
    const auto px = [&](double v) { return left + pw * (v - s.lo) / (s.hi - s.lo); };
    const double slot = ph / static_cast<double>(n);
    const double group = slot * 0.72;
    const double bh = chart.stacked ? group : group / static_cast<double>(m);
    out += "<g class=\"grid\">";
    for (double t : s.ticks) {
      line(out, px(t), top, px(t), top + ph, kGridColor);
      const std::string label = format_number(t, tick_decimals);
      text(out, fit_x(px(t), label, w), top + ph + 16, label, "middle");
    }
    out += "</g><g class=\"y-labels\">";
    for (std::size_t i = 0; i < n; ++i)
      text(out, left - 8, top + slot * (static_cast<double>(i) + 0.5) + 4,
           truncate_label(chart.categories[i], 30), "end");
    out += "</g><g class=\"bars\">";
    for (std::size_t i = 0; i < n; ++i) {
      for (std::size_t j = 0; j < m; ++j) {
        const Bar& bar = bars[i][j];
        if (!std::isfinite(bar.v)) continue;
        const double y = top + slot * static_cast<double>(i) + (slot - group) / 2 +
                         (chart.stacked ? 0 : bh * static_cast<double>(j));
        const double x0 = std::min(px(bar.a), px(bar.b));
        const double x1 = std::max(px(bar.a), px(bar.b));
        out += "<rect class=\"bar\" x=\"" + c(x0) + "\" y=\"" + c(y) + "\" width=\"" + c(x1 - x0) +
               "\" height=\"" + c(std::max(1.0, bh - 1)) + "\" fill=\"" +
               color_of(chart.series[j], bar.v) + "\"><title>" + bar_title(i, j) +
               "</title></rect>";
        if (chart.value_labels)
          text(out, std::max(x1, px(0)) + 4, y + bh / 2 + 4,
               format_number(bar.v, chart.decimals) + chart.unit, "start", "value");
      }
    }
    out += "</g>";
    line(out, px(0), top, px(0), top + ph, kAxisColor);
    if (show_legend) legend(out, chart.series, left, 16);
  }
  out += "</svg>";
  return out;
}

}  // namespace kamwatch::report::svg
