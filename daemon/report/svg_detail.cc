#include "report/svg_detail.h"

#include <algorithm>
#include <cmath>

namespace kamwatch::report::svg::detail {

std::string c(double v) { return format_coord(v); }

int decimals_for(double step) {
  for (int d = 0; d < 6; ++d) {
    const double scaled = step * std::pow(10.0, d);
    if (std::fabs(scaled - std::round(scaled)) < 1e-6 * std::max(1.0, scaled)) return d;
  }
  return 6;
}

std::string truncate_label(std::string_view s, std::size_t max_chars) {
  std::size_t chars = 0;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if ((static_cast<unsigned char>(s[i]) & 0xC0) == 0x80) continue;
    if (chars == max_chars) return std::string(s.substr(0, i)) + "\xE2\x80\xA6";
    ++chars;
  }
  return std::string(s);
}

std::size_t label_chars(std::string_view s) {
  std::size_t n = 0;
  for (char ch : s) n += (static_cast<unsigned char>(ch) & 0xC0) != 0x80;
  return n;
}

double text_width(std::string_view s) { return 6.2 * static_cast<double>(label_chars(s)); }

double fit_x(double x, std::string_view label, double width) {
  const double half = text_width(label) / 2 + 2;
  return std::clamp(x, std::min(half, width / 2), std::max(width - half, width / 2));
}

double left_margin(const Scale& s, int decimals) {
  double w = 0;
  for (double t : s.ticks) w = std::max(w, text_width(format_number(t, decimals)));
  return std::max(40.0, w + 14);
}

std::size_t label_step(std::size_t n, int max_labels) {
  const std::size_t max = static_cast<std::size_t>(std::max(1, max_labels));
  return (n + max - 1) / max;
}

std::size_t label_chars_for(double slot, std::size_t step) {
  return std::max<std::size_t>(3, static_cast<std::size_t>(slot * static_cast<double>(step) / 6.5));
}

void open_svg(std::string& out, std::string_view kind, int w, int h, std::string_view title) {
  const std::string t = escape(title);
  out += "<svg class=\"chart ";
  out += kind;
  out += "\" viewBox=\"0 0 " + std::to_string(w) + " " + std::to_string(h) + "\" width=\"" +
         std::to_string(w) + "\" height=\"" + std::to_string(h) + "\" role=\"img\" aria-label=\"" +
         t + "\" font-family=\"system-ui, sans-serif\" font-size=\"11\"><title>" + t + "</title>";
}

void text(std::string& out, double x, double y, std::string_view s, std::string_view anchor,
          std::string_view cls) {
  out += "<text x=\"" + c(x) + "\" y=\"" + c(y) + "\" text-anchor=\"";
  out += anchor;
  out += "\" fill=\"";
  out += kTextColor;
  out += "\"";
  if (!cls.empty()) {
    out += " class=\"";
    out += cls;
    out += "\"";
  }
  out += ">";
  append_escaped(out, s);
  out += "</text>";
}

void line(std::string& out, double x1, double y1, double x2, double y2, std::string_view color,
          double width, std::string_view dash) {
  out += "<line x1=\"" + c(x1) + "\" y1=\"" + c(y1) + "\" x2=\"" + c(x2) + "\" y2=\"" + c(y2) +
         "\" stroke=\"";
  out += color;
  out += "\" stroke-width=\"" + c(width) + "\"";
  if (!dash.empty()) {
    out += " stroke-dasharray=\"";
    out += dash;
    out += "\"";
  }
  out += "/>";
}

std::string no_data_svg(std::string_view kind, int w, int h, std::string_view title) {
  std::string out;
  open_svg(out, kind, w, h, title);
  out += "<rect x=\"0.5\" y=\"0.5\" width=\"" + std::to_string(w - 1) + "\" height=\"" +
         std::to_string(h - 1) + "\" fill=\"#fafafa\" stroke=\"" + kGridColor + "\"/>";
  text(out, w / 2.0, h / 2.0 + 4, "No data", "middle", "no-data");
  out += "</svg>";
  return out;
}

double legend_entry(std::string& out, double x, double y, std::string_view color,
                    std::string_view label, std::size_t max_chars) {
  out += "<rect x=\"" + c(x) + "\" y=\"" + c(y - 9) + "\" width=\"10\" height=\"10\" fill=\"" +
         escape(color) + "\"/>";
  const std::string name = truncate_label(label, max_chars);
  text(out, x + 14, y, name, "start", "legend");
  return x + 14 + 6.5 * static_cast<double>(label_chars(name)) + 14;
}

}  // namespace kamwatch::report::svg::detail
