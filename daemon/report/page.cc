#include "report/page.h"

#include "report/html.h"

namespace kamwatch::report::page {

const char* const kStyle = R"css(
:root{color-scheme:light}
*{box-sizing:border-box}
body{margin:0;background:#f4f5f7;color:#222;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif}
main{max-width:980px;margin:0 auto;padding:16px}
section{background:#fff;border:1px solid #e1e4e8;border-radius:8px;padding:14px 18px;margin:0 0 14px;break-inside:avoid}
h1{margin:0 0 4px;font-size:24px}
h2{margin:0 0 10px;font-size:17px;border-bottom:1px solid #eee;padding-bottom:6px}
h3{margin:12px 0 6px;font-size:14px}
p{margin:6px 0}
nav{font-size:12px;margin:6px 0 0}
nav a{color:#3b6ea5;text-decoration:none;margin-right:10px}
a{color:#3b6ea5}
.muted,.note{color:#666;font-size:12px}
.no-data{color:#777;font-style:italic;background:#fafafa;border:1px dashed #ddd;border-radius:6px;padding:8px 10px}
.facts{display:grid;grid-template-columns:repeat(auto-fill,minmax(200px,1fr));gap:6px 16px;margin:6px 0 10px}
.facts div{border-left:3px solid #e1e4e8;padding-left:8px}
.facts dt{color:#666;font-size:12px}
.facts dd{margin:0;font-weight:600}
.score{font-size:44px;font-weight:700;line-height:1}
.chip{display:inline-block;border-radius:10px;padding:1px 9px;color:#fff;font-size:12px;font-weight:600;vertical-align:middle}
.band-red{background:#c0392b}.band-yellow{background:#d4a017}.band-green{background:#2e8b57}.band-unknown{background:#888}
.sev-critical{background:#c0392b}.sev-warning{background:#d4a017}.sev-info{background:#3b6ea5}.sev-other{background:#888}
.key{background:#6a4c93}
table{border-collapse:collapse;width:100%;margin:6px 0 10px;font-size:13px}
th,td{border-bottom:1px solid #eee;padding:4px 6px;text-align:left;vertical-align:top}
th{background:#f7f8fa;font-weight:600}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
td.num{white-space:nowrap}
.scroll{overflow-x:auto}
tr.total td{font-weight:600;border-top:2px solid #ddd}
.pos{color:#2e8b57}.neg{color:#c0392b}
svg.chart{display:block;max-width:100%;height:auto;margin:6px 0}
.meter{height:12px;background:#eee;border-radius:6px;overflow:hidden;max-width:420px}
.meter span{display:block;height:100%;background:#3b6ea5}
ol.steps li{margin:0 0 8px}
.from{color:#666;font-size:12px}
.timeline h3{margin-top:16px}
footer{color:#777;font-size:12px;text-align:center;padding:0 0 24px}
@media print{body{background:#fff}section{border-color:#ccc}nav{display:none}}
)css";

std::string open(std::string_view title) {
  std::string out =
      "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
      "<meta name=\"generator\" content=\"kamwatch\"><title>";
  append_escaped(out, title);
  out += "</title><style>";
  out += kStyle;
  out += "</style></head><body><main>";
  return out;
}

std::string close(std::string_view footer) {
  return "</main><footer>" + escape(footer) + "</footer></body></html>\n";
}

void open_section(std::string& out, std::string_view id, std::string_view heading) {
  out += "<section id=\"";
  append_escaped(out, id);
  out += "\"><h2>";
  append_escaped(out, heading);
  out += "</h2>";
}

void no_data(std::string& out, std::string_view why) {
  out += "<p class=\"no-data\">No data";
  if (!why.empty()) out += ": " + escape(why);
  out += "</p>";
}

void nav(std::string& out, const std::vector<std::pair<std::string, std::string>>& links) {
  out += "<nav>";
  for (const auto& [id, label] : links)
    out += "<a href=\"#" + escape(id) + "\">" + escape(label) + "</a>";
  out += "</nav>";
}

void facts(std::string& out, const Facts& f) {
  if (f.empty()) return;
  out += "<dl class=\"facts\">";
  for (const auto& [k, v] : f) out += "<div><dt>" + escape(k) + "</dt><dd>" + v + "</dd></div>";
  out += "</dl>";
}

std::string chip(std::string_view text, std::string_view cls) {
  return "<span class=\"chip " + escape(cls) + "\">" + escape(text) + "</span>";
}

std::string band_chip(std::string_view band) {
  const std::string b = band.empty() ? "unknown" : std::string(band);
  const bool known = b == "red" || b == "yellow" || b == "green";
  return chip(b, known ? "band-" + b : "band-unknown");
}

std::string band_color(std::string_view band) {
  if (band == "red") return "#c0392b";
  if (band == "yellow") return "#d4a017";
  if (band == "green") return "#2e8b57";
  return "#888888";
}

int severity_rank(std::string_view s) {
  if (s == "critical" || s == "page" || s == "error") return 0;
  if (s == "warning" || s == "high") return 1;
  if (s == "info" || s == "low") return 2;
  return 3;
}

std::string severity_chip(std::string_view s) {
  static constexpr const char* kCls[] = {"sev-critical", "sev-warning", "sev-info", "sev-other"};
  return chip(s.empty() ? "none" : s, kCls[severity_rank(s)]);
}

std::string or_dash(std::string_view s) { return s.empty() ? "\xE2\x80\x94" : escape(s); }

}  // namespace kamwatch::report::page
