#!/usr/bin/env python3
"""Check the deploy/ kit against the metrics kamwatch exposes.

    check_deploy.py --metrics FILE [--deploy DIR]

FILE is a Prometheus text exposition (e.g. `curl -s 127.0.0.1:9470/metrics`, or
tests/deploy/sample_metrics.txt). DIR defaults to the deploy/ directory next to scripts/.

Checks:
  (a) every deploy/grafana/dashboards/*.json parses, has a uid and a title unique among the
      dashboards, unique panel ids, and every panel target has a non-empty `expr`;
  (b) every metric name used in PromQL (dashboard targets, annotation queries, templating
      queries, and the `expr` of rules in deploy/prometheus/*.yml) exists in FILE: as a
      sample name or `# TYPE name`; for a histogram/summary also name_bucket/_sum/_count.
      `up`, `ALERTS`, `ALERTS_FOR_STATE` and names recorded by `record:` rules count as
      existing.

Exit 0 with a summary line when everything is fine, 1 listing each problem otherwise, 2 on
usage errors. Standard library only (the rule files are read by a small YAML subset reader
that understands `expr:` with plain, quoted and block scalars).
"""

import argparse
import json
import re
import sys
import textwrap
from pathlib import Path

PROMQL_FUNCTIONS = {
    # aggregation operators
    "sum", "min", "max", "avg", "group", "stddev", "stdvar", "count", "count_values",
    "bottomk", "topk", "quantile", "limitk", "limit_ratio",
    # functions
    "abs", "absent", "absent_over_time", "ceil", "changes", "clamp", "clamp_max", "clamp_min",
    "day_of_month", "day_of_week", "day_of_year", "days_in_month", "delta", "deriv", "exp",
    "floor", "histogram_avg", "histogram_count", "histogram_fraction", "histogram_quantile",
    "histogram_stddev", "histogram_stdvar", "histogram_sum", "holt_winters",
    "double_exponential_smoothing", "hour", "idelta", "increase", "info", "irate",
    "label_join", "label_replace", "ln", "log2", "log10", "minute", "month", "predict_linear",
    "rate", "resets", "round", "scalar", "sgn", "sort", "sort_desc", "sort_by_label",
    "sort_by_label_desc", "sqrt", "time", "timestamp", "vector", "year", "avg_over_time",
    "min_over_time", "max_over_time", "sum_over_time", "count_over_time",
    "quantile_over_time", "stddev_over_time", "stdvar_over_time", "last_over_time",
    "present_over_time", "mad_over_time", "acos", "acosh", "asin", "asinh", "atan", "atanh",
    "cos", "cosh", "sin", "sinh", "tan", "tanh", "deg", "rad", "pi",
    # Grafana templating functions (Prometheus data source)
    "label_values", "label_names", "metrics", "query_result",
}
PROMQL_KEYWORDS = {
    "by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and", "or",
    "unless", "offset", "atan2", "inf", "nan", "start", "end",
}
ALWAYS_EXIST = {"up", "ALERTS", "ALERTS_FOR_STATE"}

IDENT = re.compile(r"[A-Za-z_:][A-Za-z0-9_:]*")
STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
GRAFANA_VAR = re.compile(r"\$\{[^}]*\}|\$[A-Za-z_][A-Za-z0-9_]*|\[\[[^\]]*\]\]")
BRACES = re.compile(r"\{[^{}]*\}")
BRACKETS = re.compile(r"\[[^\[\]]*\]")
LABEL_LIST = re.compile(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)")
DURATION = re.compile(r"(?<![A-Za-z0-9_:.])(?:\d+(?:ms|s|m|h|d|w|y))+(?![A-Za-z0-9_:])")
NUMBER = re.compile(
    r"(?<![A-Za-z0-9_:.])(?:0[xX][0-9a-fA-F]+|(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)"
    r"(?![A-Za-z0-9_:])")


def metric_names(expr):
    """Metric names used in a PromQL expression (Grafana variables allowed)."""
    s = GRAFANA_VAR.sub(" ", expr)
    s = STRING.sub('""', s)
    s = "\n".join(line.split("#", 1)[0] for line in s.splitlines())
    s = BRACES.sub(" ", s)          # label matchers
    s = BRACKETS.sub(" ", s)        # range and subquery durations
    s = LABEL_LIST.sub(" ", s)      # by (...), without (...), on (...), group_left (...)
    s = DURATION.sub(" ", s)        # offset 5m, @ durations
    s = NUMBER.sub(" ", s)
    names = set()
    for m in IDENT.finditer(s):
        word = m.group(0)
        rest = s[m.end():].lstrip()
        if word in PROMQL_KEYWORDS or word.lower() in ("inf", "nan"):
            continue
        if word in PROMQL_FUNCTIONS and rest.startswith("("):
            continue
        names.add(word)
    return names


def templating_expr(query):
    """The PromQL inside a Grafana Prometheus templating query, or None."""
    if isinstance(query, dict):
        query = query.get("query", "")
    if not isinstance(query, str):
        return None
    q = query.strip()
    m = re.fullmatch(r"label_values\((.*),\s*[A-Za-z_][A-Za-z0-9_]*\s*\)", q, re.S)
    if m:
        return m.group(1)
    if re.fullmatch(r"label_values\(\s*[A-Za-z_][A-Za-z0-9_]*\s*\)", q):
        return None
    if re.fullmatch(r"label_names\(.*\)|metrics\(.*\)", q, re.S):
        return None
    m = re.fullmatch(r"query_result\((.*)\)", q, re.S)
    if m:
        return m.group(1)
    return q or None


def read_exposition(path):
    names = set()
    for line in Path(path).read_text().splitlines():
        line = line.strip()
        if not line:
            continue
        if line.startswith("#"):
            parts = line.split()
            if len(parts) >= 4 and parts[1] == "TYPE":
                name, kind = parts[2], parts[3]
                names.add(name)
                if kind in ("histogram", "gaugehistogram"):
                    names.update({name + "_bucket", name + "_sum", name + "_count"})
                elif kind == "summary":
                    names.update({name + "_sum", name + "_count"})
            continue
        m = IDENT.match(line)
        if m:
            names.add(m.group(0))
    return names


def walk_panels(panels):
    for p in panels or []:
        yield p
        yield from walk_panels(p.get("panels"))


def check_dashboards(ddir, problems, uses):
    files = sorted(ddir.glob("*.json"))
    if not files:
        problems.append(f"{ddir}: no dashboard JSON files")
    uids, titles, n_panels, n_queries = {}, {}, 0, 0
    for f in files:
        try:
            d = json.loads(f.read_text())
        except (OSError, ValueError) as e:
            problems.append(f"{f}: does not parse: {e}")
            continue
        uid, title = d.get("uid"), d.get("title")
        for key, val, seen in (("uid", uid, uids), ("title", title, titles)):
            if not isinstance(val, str) or not val:
                problems.append(f"{f}: missing {key}")
            elif val in seen:
                problems.append(f"{f}: {key} '{val}' also used by {seen[val]}")
            else:
                seen[val] = f.name
        ids = set()
        for p in walk_panels(d.get("panels")):
            n_panels += 1
            where = f"{f.name}: panel {p.get('id')} '{p.get('title', '')}'"
            if p.get("id") in ids:
                problems.append(f"{where}: duplicate panel id")
            ids.add(p.get("id"))
            for i, t in enumerate(p.get("targets") or []):
                expr = t.get("expr")
                if not isinstance(expr, str) or not expr.strip():
                    problems.append(f"{where}: target {t.get('refId', i)} has no expr")
                    continue
                n_queries += 1
                for name in metric_names(expr):
                    uses.setdefault(name, []).append(where)
        for a in (d.get("annotations") or {}).get("list", []):
            if isinstance(a.get("expr"), str):
                n_queries += 1
                for name in metric_names(a["expr"]):
                    uses.setdefault(name, []).append(f"{f.name}: annotation '{a.get('name')}'")
        for v in (d.get("templating") or {}).get("list", []):
            if v.get("type") != "query":
                continue
            expr = templating_expr(v.get("query")) or templating_expr(v.get("definition"))
            if expr:
                n_queries += 1
                for name in metric_names(expr):
                    uses.setdefault(name, []).append(f"{f.name}: variable ${v.get('name')}")
    return len(files), n_panels, n_queries


def yaml_values(text, key):
    """(line, value) of every `key:` scalar in a YAML document (plain, quoted or block)."""
    lines = text.splitlines()
    out = []
    pat = re.compile(r"^(\s*(?:-\s+)?)" + re.escape(key) + r":(?:\s+(.*))?$")
    i = 0
    while i < len(lines):
        m = pat.match(lines[i])
        if not m:
            i += 1
            continue
        column, value = len(m.group(1)), (m.group(2) or "").rstrip()
        start = i + 1
        i += 1
        body = []  # continuation lines: blank, or indented deeper than the key
        while i < len(lines) and (not lines[i].strip()
                                  or len(lines[i]) - len(lines[i].lstrip()) > column):
            body.append(lines[i])
            i += 1
        while body and not body[-1].strip():
            body.pop()
        if value[:1] in "|>":
            out.append((start, textwrap.dedent("\n".join(body))))
        elif value[:1] == '"':
            out.append((start, json.loads(value) if value.endswith('"') else value[1:]))
        elif value[:1] == "'":
            out.append((start, value[1:-1].replace("''", "'")))
        else:
            value = re.sub(r"\s+#.*$", "", value)
            out.append((start, " ".join([value] + [b.strip() for b in body])))
    return out


def check_rules(pdir, uses, recorded):
    files = sorted(list(pdir.glob("*.yml")) + list(pdir.glob("*.yaml")))
    n = 0
    for f in files:
        text = f.read_text()
        for _, name in yaml_values(text, "record"):
            recorded.add(name.strip())
        for line, expr in yaml_values(text, "expr"):
            n += 1
            for name in metric_names(expr):
                uses.setdefault(name, []).append(f"{f.name}:{line}")
    return n


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--metrics", required=True, help="Prometheus text exposition file")
    ap.add_argument("--deploy", default=str(Path(__file__).resolve().parent.parent / "deploy"),
                    help="deploy directory (default: %(default)s)")
    args = ap.parse_args(argv)
    deploy = Path(args.deploy)
    try:
        existing = read_exposition(args.metrics)
    except OSError as e:
        print(f"check_deploy: cannot read {args.metrics}: {e}", file=sys.stderr)
        return 2
    if not deploy.is_dir():
        print(f"check_deploy: no directory {deploy}", file=sys.stderr)
        return 2

    problems, uses, recorded = [], {}, set()
    n_dash, n_panels, n_queries = check_dashboards(deploy / "grafana" / "dashboards", problems,
                                                   uses)
    n_rules = check_rules(deploy / "prometheus", uses, recorded)
    known = existing | ALWAYS_EXIST | recorded
    missing = sorted(n for n in uses if n not in known)
    for name in missing:
        where = sorted(set(uses[name]))
        more = f" (+{len(where) - 3} more)" if len(where) > 3 else ""
        problems.append(f"missing metric {name}: used in {'; '.join(where[:3])}{more}")
    if problems:
        for p in problems:
            print(f"check_deploy: {p}", file=sys.stderr)
        print(f"check_deploy: FAILED: {len(problems)} problem(s), {len(missing)} missing "
              f"metric name(s)", file=sys.stderr)
        return 1
    print(f"check_deploy: OK: {n_dash} dashboards, {n_panels} panels, {n_queries} dashboard "
          f"queries, {n_rules} rule exprs, {len(uses)} metric names, all in {args.metrics}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
