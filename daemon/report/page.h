#pragma once
// The page shell and small HTML builders of every report (account, replay and portfolio): one
// look, a self-contained HTML5 document with inline CSS and no scripts or external assets.
// Thread-safety: pure functions.
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace kamwatch::report::page {

// The reports' stylesheet (one for every report).
extern const char* const kStyle;

// "<!DOCTYPE html>...<body><main>": head with charset, viewport, the escaped title and kStyle.
[[nodiscard]] std::string open(std::string_view title);
// "</main><footer>footer</footer></body></html>\n" (footer escaped).
[[nodiscard]] std::string close(std::string_view footer);

// <section id="id"><h2>heading</h2> (the caller closes it with </section>).
void open_section(std::string& out, std::string_view id, std::string_view heading);
// <p class="no-data">No data: why</p>
void no_data(std::string& out, std::string_view why);
// <nav> of in-page links (id, label).
void nav(std::string& out, const std::vector<std::pair<std::string, std::string>>& links);

// <dl class="facts"> of (label, already-escaped HTML value).
using Facts = std::vector<std::pair<std::string, std::string>>;
void facts(std::string& out, const Facts& f);

// <span class="chip cls">text</span>
[[nodiscard]] std::string chip(std::string_view text, std::string_view cls);
// red/yellow/green chip; anything else "unknown" in grey.
[[nodiscard]] std::string band_chip(std::string_view band);
[[nodiscard]] std::string band_color(std::string_view band);
// 0 critical (page, error), 1 warning (high), 2 info (low), 3 anything else.
[[nodiscard]] int severity_rank(std::string_view severity);
[[nodiscard]] std::string severity_chip(std::string_view severity);
// Escaped s, or an em dash when s is empty.
[[nodiscard]] std::string or_dash(std::string_view s);

}  // namespace kamwatch::report::page
