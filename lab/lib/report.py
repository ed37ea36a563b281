#!/usr/bin/env python3
"""Render a lab comparison results document as CSV, SVG, Markdown and a terminal table.

    /usr/bin/python3 lab/lib/report.py RESULTS_JSON OUTDIR

writes OUTDIR/results.csv, OUTDIR/results.svg and OUTDIR/results.md and prints the tables to stdout.
Other scripts can `import report` (after `sys.path.insert(0, "lab/lib")`) and call
`render(results, outdir)` and `text_table(results)`.

Standard library only: the lab hosts run Debian's /usr/bin/python3, which may have nothing else.
The SVG is written by hand for the same reason (no matplotlib).
"""

import csv
import datetime
import json
import math
import os
import re
import statistics
import sys
import textwrap
from xml.sax.saxutils import escape, quoteattr

# Overload factors that get their own table/CSV columns. Other factors still get SVG markers.
TABLE_FACTORS = (1.5, 2.0)


# ---------------------------------------------------------------------------------------------------
# Reading the document. The measurement script may leave fields out or write null (a failed trial,
# a quick run without overload steps), so everything goes through these forgiving accessors.
# ---------------------------------------------------------------------------------------------------

def _num(value):
    """A finite float, or None for missing / null / non-numeric / NaN values."""
    if isinstance(value, bool) or value is None:
        return None
    try:
        f = float(value)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def _nums(values):
    """The finite numbers of a list (anything else in the list is skipped)."""
    if not isinstance(values, list):
        return []
    return [f for f in (_num(v) for v in values) if f is not None]


def _first(*values):
    """The first value that is not None (explicit 0 must win over a fallback)."""
    for v in values:
        if v is not None:
            return v
    return None


def _overloads(row):
    """{factor: median delivered pps} for a pps row; empty if the row has no overload data."""
    result = {}
    for entry in row.get("overload") or []:
        if not isinstance(entry, dict):
            continue
        factor = _num(entry.get("factor"))
        delivered = _nums(entry.get("delivered"))
        median = _first(_num(entry.get("median")), statistics.median(delivered) if delivered else None)
        if factor is not None and median is not None:
            result[factor] = {"median": median, "offered": _num(entry.get("offered"))}
    return result


def pps_rows(results):
    """Normalised pps rows: min/median/max fall back to the trials when the document omits them."""
    rows = []
    for raw in results.get("pps") or []:
        if not isinstance(raw, dict):
            continue
        trials = _nums(raw.get("trials"))
        rows.append({
            "mode": str(raw.get("mode", "")),
            "impl": str(raw.get("impl", "")),
            "label": str(raw.get("label") or raw.get("impl") or "?"),
            "size": _num(raw.get("size")),
            "trials": trials,
            "min": _first(_num(raw.get("min")), min(trials) if trials else None),
            "median": _first(_num(raw.get("median")), statistics.median(trials) if trials else None),
            "max": _first(_num(raw.get("max")), max(trials) if trials else None),
            "overload": _overloads(raw),
        })
    return rows


def app_rows(results):
    rows = []
    for raw in results.get("app") or []:
        if not isinstance(raw, dict):
            continue
        row = {"mode": str(raw.get("mode", "")), "impl": str(raw.get("impl", "")),
               "label": str(raw.get("label") or raw.get("impl") or "?")}
        for key in ("rps", "p50_ms", "p99_ms", "cpu_s", "duration_s", "bytes_balancer", "requests"):
            row[key] = _num(raw.get(key))
        rows.append(row)
    return rows


def ratio_rows(results):
    rows = []
    for raw in results.get("ratios") or []:
        if not isinstance(raw, dict):
            continue
        value, target = _num(raw.get("value")), _num(raw.get("target"))
        met = raw.get("met")
        if not isinstance(met, bool):
            # Older documents may lack "met"; derive it rather than show nothing.
            met = None if value is None or target is None else value >= target
        rows.append({"name": str(raw.get("name", "")), "value": value, "target": target, "met": met})
    return rows


def overload_at(row, factor):
    """Median delivered pps at `factor` x the loss-free rate, or None."""
    for f, entry in row["overload"].items():
        if abs(f - factor) < 1e-6:
            return entry["median"]
    return None


def ratio_at_2x(row):
    """Delivered at 2x / own loss-free median: how gracefully the path degrades under overload."""
    delivered = overload_at(row, 2.0)
    if delivered is None or not row["median"]:
        return None
    return delivered / row["median"]


# ---------------------------------------------------------------------------------------------------
# Formatting numbers for people.
# ---------------------------------------------------------------------------------------------------

def fmt_si(value, unit=""):
    """306000 -> '306 k', 1234567 -> '1.23 M', 0 -> '0'; with unit: '12 k req/s'. Three significant digits."""
    if value is None:
        return ""
    number, prefix = "0", ""
    if value != 0:
        number = _sig(value)
        for scale, name in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
            # Compare after rounding, so 999 600 becomes '1 M' and not '1000 k'.
            if abs(float("%.3g" % value)) >= scale:
                number, prefix = _sig(value / scale), name
                break
    return " ".join(part for part in (number, prefix, unit) if part)


def _sig(value, digits=3):
    """Up to `digits` significant digits, never in exponent notation."""
    if value == 0:
        return "0"
    if abs(value) >= 10 ** digits:
        return "%.0f" % value
    decimals = max(0, digits - 1 - int(math.floor(math.log10(abs(value)))))
    return ("%.*f" % (decimals, value)).rstrip("0").rstrip(".") if decimals else "%.0f" % value


def fmt_int(value):
    """Exact count with thousands separators for tables: 306000 -> '306,000'."""
    return "" if value is None else "{:,}".format(int(round(value)))


def fmt_ms(value):
    return "" if value is None else _sig(value)


def fmt_ratio(value):
    return "" if value is None else "%.2f" % value


def fmt_plain(value):
    """Machine-readable number for CSV: integers without '.0', floats as Python writes them."""
    if value is None:
        return ""
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def fmt_size(size):
    return "?" if size is None else "%s B" % fmt_plain(size)


def fmt_factor(factor):
    return "%s×" % fmt_plain(factor)


def fmt_date(text):
    """'2026-11-21T10:00:00Z' -> '2026-11-21 10:00 UTC'; anything unparsable is shown as given."""
    try:
        when = datetime.datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        return str(text)
    if when.utcoffset() == datetime.timedelta(0):
        return when.strftime("%Y-%m-%d %H:%M UTC")
    return when.isoformat(sep=" ", timespec="minutes")


# ---------------------------------------------------------------------------------------------------
# Tables. Each builder returns (title, headers, aligns, cells) so Markdown and the terminal table are
# the same content by construction.
# ---------------------------------------------------------------------------------------------------

def pps_table(results):
    headers = ["implementation", "frame size", "min", "median", "max",
               "1.5× delivered", "2× delivered", "2× / loss-free"]
    aligns = "lrrrrrrr"
    cells = [[row["label"], fmt_size(row["size"]), fmt_int(row["min"]), fmt_int(row["median"]),
              fmt_int(row["max"]), fmt_int(overload_at(row, 1.5)), fmt_int(overload_at(row, 2.0)),
              fmt_ratio(ratio_at_2x(row))]
             for row in _by_size(pps_rows(results))]
    loss = _num((results.get("meta") or {}).get("loss_pct"))
    title = "Loss-free packets per second" + (" (loss ≤ %s %%)" % _sig(loss) if loss is not None else "")
    return title, headers, aligns, cells


def app_table(results):
    headers = ["mode", "requests/s", "p50 ms", "p99 ms", "CPU s", "balancer bytes", "requests"]
    aligns = "lrrrrrr"
    cells = [[row["label"], fmt_int(row["rps"]), fmt_ms(row["p50_ms"]), fmt_ms(row["p99_ms"]),
              fmt_ms(row["cpu_s"]), fmt_int(row["bytes_balancer"]), fmt_int(row["requests"])]
             for row in app_rows(results)]
    return "What applications feel", headers, aligns, cells


def ratio_table(results):
    headers = ["ratio", "value", "target", "result"]
    aligns = "lrrl"
    cells = [[row["name"], fmt_ratio(row["value"]), fmt_ratio(row["target"]),
              {True: "met", False: "missed", None: ""}[row["met"]]]
             for row in ratio_rows(results)]
    return "Ratios", headers, aligns, cells


def churn_table(results):
    """CLUSTERIP membership change: of the flows established on nodes that stay, how many change node (for a
    stateful flow, broken) when a node leaves and when it comes back."""
    headers = ["implementation", "node leaves: survivors' flows moved", "node returns: flows moved", "unanswered"]
    aligns = "lrrr"
    cells = []
    for c in results.get("membership_change") or []:
        leave, back = c.get("leave") or {}, c.get("rejoin") or {}

        def part(p):
            moved, total = p.get("broken_on_survivors"), p.get("on_survivors")
            if moved is None or not total:
                return ""
            return "%d / %d (%.1f %%)" % (moved, total, 100.0 * moved / total)

        cells.append([c.get("label") or c.get("impl") or "", part(leave), part(back),
                      "%s / %s" % (leave.get("unanswered_after", ""), back.get("unanswered_after", ""))])
    return "CLUSTERIP membership change (established UDP flows)", headers, aligns, cells


def _tables(results):
    tables = [pps_table(results), app_table(results), ratio_table(results)]
    if results.get("membership_change"):
        tables.append(churn_table(results))
    return tables


def _by_size(rows):
    """Rows grouped by frame size ascending, keeping the document's order inside a size (stable sort)."""
    return sorted(rows, key=lambda r: (r["size"] is None, r["size"] or 0))


def meta_summary(meta):
    """The run's identity as short 'key value' parts, shared by the SVG title and the text outputs."""
    parts = []
    if meta.get("date"):
        parts.append(fmt_date(meta["date"]))
    if meta.get("commit"):
        parts.append("commit %s" % meta["commit"])
    if meta.get("kernel"):
        parts.append("kernel %s" % meta["kernel"])
    cores = _num(meta.get("cores"))
    if cores is not None:
        parts.append("%s core%s" % (fmt_plain(cores), "" if cores == 1 else "s"))
    loss = _num(meta.get("loss_pct"))
    if loss is not None:
        parts.append("loss ≤ %s %%" % _sig(loss))
    return parts


def run_summary(meta):
    """Secondary run parameters (how much to trust the numbers)."""
    parts = []
    trials, duration = _num(meta.get("trials")), _num(meta.get("duration_s"))
    if trials is not None:
        parts.append("%s trial%s" % (fmt_plain(trials), "" if trials == 1 else "s")
                     + (" × %s s" % _sig(duration) if duration is not None else ""))
    if meta.get("quick"):
        parts.append("quick run")
    if meta.get("cpu"):
        parts.append(str(meta["cpu"]))
    return parts


def _md_text(text):
    # Markdown renderers pass raw HTML through; a '<' in a label must show, not open a tag.
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace("\n", " ")


def _md_cell(text):
    # A pipe would end the cell.
    return _md_text(text).replace("\\", "\\\\").replace("|", "\\|")


def _md_table(headers, aligns, cells):
    rule = {"l": ":---", "r": "---:"}
    lines = ["| " + " | ".join(_md_cell(h) for h in headers) + " |",
             "| " + " | ".join(rule[a] for a in aligns) + " |"]
    lines += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in cells]
    return "\n".join(lines)


def markdown(results):
    meta = results.get("meta") or {}
    out = ["## Comparison results", ""]
    run = meta_summary(meta) + run_summary(meta)
    if run:
        out.append("- Run: " + _md_text(" · ".join(run)))
    if meta.get("placement"):
        out.append("- Placement: " + _md_text(meta["placement"]))
    if meta.get("command"):
        out.append("- Command: `%s`" % str(meta["command"]).replace("`", "'"))
    out += ["", "![comparison](results.svg)", ""]
    for title, headers, aligns, cells in _tables(results):
        out += ["### " + title, ""]
        out.append(_md_table(headers, aligns, cells) if cells else "_No measurements._")
        out.append("")
    return "\n".join(out)


def _aligned(headers, aligns, cells):
    widths = [max(len(str(row[i])) for row in [headers] + cells) for i in range(len(headers))]

    def line(row):
        return "  ".join(str(c).ljust(w) if a == "l" else str(c).rjust(w)
                         for c, w, a in zip(row, widths, aligns)).rstrip()

    return "\n".join([line(headers), "  ".join("-" * w for w in widths)] + [line(r) for r in cells])


def text_table(results):
    """The Markdown tables as aligned plain text for a terminal."""
    meta = results.get("meta") or {}
    out = []
    run = meta_summary(meta) + run_summary(meta)
    if run:
        out.append(" · ".join(run))
    if meta.get("placement"):
        out.append("placement: " + str(meta["placement"]))
    for title, headers, aligns, cells in _tables(results):
        out += ["", title, "=" * len(title)] if out else [title, "=" * len(title)]
        out.append(_aligned(headers, aligns, cells) if cells else "(no measurements)")
    return "\n".join(out) + "\n"


# ---------------------------------------------------------------------------------------------------
# CSV: one union header so a spreadsheet gets one sheet; cells that do not apply to a kind stay empty.
# ---------------------------------------------------------------------------------------------------

CSV_COLUMNS = ["kind", "mode", "impl", "label", "size", "min", "median", "max", "trials",
               "overload_1.5x", "overload_2x", "rps", "p50_ms", "p99_ms", "cpu_s", "bytes_balancer",
               "requests"]


def write_csv(results, path):
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=CSV_COLUMNS, restval="")
        writer.writeheader()
        for row in _by_size(pps_rows(results)):
            writer.writerow({
                "kind": "pps", "mode": row["mode"], "impl": row["impl"], "label": row["label"],
                "size": fmt_plain(row["size"]), "min": fmt_plain(row["min"]),
                "median": fmt_plain(row["median"]), "max": fmt_plain(row["max"]),
                "trials": ";".join(fmt_plain(t) for t in row["trials"]),
                "overload_1.5x": fmt_plain(overload_at(row, 1.5)),
                "overload_2x": fmt_plain(overload_at(row, 2.0)),
            })
        for row in app_rows(results):
            cells = {"kind": "app", "mode": row["mode"], "impl": row["impl"], "label": row["label"]}
            for key in ("rps", "p50_ms", "p99_ms", "cpu_s", "bytes_balancer", "requests"):
                cells[key] = fmt_plain(row[key])
            writer.writerow(cells)


# ---------------------------------------------------------------------------------------------------
# SVG, written by hand.
# ---------------------------------------------------------------------------------------------------

WIDTH = 1000
MARGIN = 24
BAR_H = 18          # bar thickness
ROW_PITCH = 24      # bar thickness + gap
GROUP_HEAD = 20     # space for a "64 B" group heading
GROUP_GAP = 8
CHAR_W = 0.58       # average glyph width as a fraction of font size (sans-serif); used only to fit text

# Ours in blues; the in-kernel peers alternate grey and orange so neighbouring peers stay distinct.
OUR_COLOURS = ["#1f5fa8", "#4a90d9", "#0d3b73", "#86b7ea", "#2f74c0"]
PEER_COLOURS = ["#7a7a7a", "#e08a2c", "#b0b0b0", "#f3b66e", "#555555", "#b9651b"]

# Marker per overload factor. 1.5x and 2x are the usual steps; others take the remaining shapes.
FIXED_MARKERS = {1.5: "diamond", 2.0: "triangle"}
SPARE_MARKERS = ["square", "circle"]

# Characters XML 1.0 forbids even when escaped; a stray one in a label must not break the file.
_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def is_ours(impl):
    return str(impl).startswith("lb-")


def _xml_text(text):
    return escape(_XML_INVALID.sub("?", str(text)))


def _fmt_coord(value):
    return ("%.1f" % value).rstrip("0").rstrip(".")


def el(tag, content=None, **attrs):
    """One SVG element. Attribute names: 'text_anchor' -> 'text-anchor', 'class_' -> 'class'.
    `content` is a string (escaped) or a list of already-built elements (inserted as is)."""
    parts = []
    for name, value in attrs.items():
        if value is None:
            continue
        name = name.rstrip("_").replace("_", "-")
        if isinstance(value, float):
            value = _fmt_coord(value)
        parts.append(" %s=%s" % (name, quoteattr(_XML_INVALID.sub("?", str(value)))))
    head = "<%s%s" % (tag, "".join(parts))
    if content is None:
        return head + "/>"
    body = "".join(content) if isinstance(content, list) else _xml_text(content)
    return "%s>%s</%s>" % (head, body, tag)


def text_width(text, size):
    return len(str(text)) * size * CHAR_W


def fit(text, max_px, size):
    """Shorten text with an ellipsis so it fits `max_px` at font `size`."""
    text = str(text)
    limit = max(1, int(max_px / (size * CHAR_W)))
    return text if len(text) <= limit else text[:max(0, limit - 1)] + "…"


def wrap(text, max_px, size):
    return textwrap.wrap(str(text), max(10, int(max_px / (size * CHAR_W)))) or [""]


def nice_ticks(vmax, target=5):
    """Axis end and ticks from 0 in steps of 1, 2, 2.5 or 5 x 10^n, about `target` intervals."""
    if vmax is None or vmax <= 0:
        vmax = 1.0
    raw = vmax / target
    magnitude = 10 ** math.floor(math.log10(raw))
    step = 10 * magnitude
    for m in (1, 2, 2.5, 5, 10):
        if m * magnitude >= raw:
            step = m * magnitude
            break
    n = max(1, int(math.ceil(vmax / step - 1e-9)))
    return n * step, [i * step for i in range(n + 1)]


def impl_colours(results):
    """A stable colour per impl (by first appearance), the same in both panels."""
    colours, ours, peers = {}, 0, 0
    for row in pps_rows(results) + app_rows(results):
        impl = row["impl"]
        if impl in colours:
            continue
        if is_ours(impl):
            colours[impl] = OUR_COLOURS[ours % len(OUR_COLOURS)]
            ours += 1
        else:
            colours[impl] = PEER_COLOURS[peers % len(PEER_COLOURS)]
            peers += 1
    return colours


def marker_shapes(factors):
    shapes, spare = {}, list(SPARE_MARKERS)
    for factor in sorted(factors):
        fixed = next((s for f, s in FIXED_MARKERS.items() if abs(f - factor) < 1e-6), None)
        shapes[factor] = fixed or (spare.pop(0) if spare else "circle")
    return shapes


def marker_slot(index, count, top):
    """Vertical centre and size of overload marker `index` of `count` inside a bar starting at `top`.
    Each factor gets its own band of the bar, so markers for close values (1.5x and 2x often deliver
    nearly the same) stay apart and the whisker on the centre line stays visible between them."""
    band = BAR_H / max(1, count)
    return top + band * (index + 0.5), min(5.0, band / 2)


def marker(shape, x, y, r=5.0, **attrs):
    style = dict(fill="#111111", stroke="#ffffff", stroke_width=1.0)
    style.update(attrs)
    if shape == "diamond":
        d = "M%s %sL%s %sL%s %sL%s %sZ" % tuple(_fmt_coord(v) for v in
                                              (x, y - r, x + r, y, x, y + r, x - r, y))
        return el("path", d=d, **style)
    if shape == "triangle":
        d = "M%s %sL%s %sL%s %sZ" % tuple(_fmt_coord(v) for v in
                                        (x, y - r, x + r, y + r * 0.8, x - r, y + r * 0.8))
        return el("path", d=d, **style)
    if shape == "square":
        return el("rect", x=x - r * 0.8, y=y - r * 0.8, width=r * 1.6, height=r * 1.6, **style)
    return el("circle", cx=x, cy=y, r=r * 0.85, **style)


class Canvas:
    """Collects elements top to bottom; `y` is the next free line, so the height comes out computed."""

    def __init__(self):
        self.items = []
        self.y = MARGIN

    def add(self, *items):
        self.items.extend(items)

    def document(self):
        height = int(math.ceil(self.y + MARGIN))
        style = ("text{font-family:'DejaVu Sans',Helvetica,Arial,sans-serif;fill:#222222}"
                 ".muted{fill:#666666}.bold{font-weight:bold}")
        return "\n".join(
            ['<?xml version="1.0" encoding="UTF-8"?>',
             '<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d">'
             % (WIDTH, height, WIDTH, height),
             el("style", style),
             el("rect", x=0, y=0, width=WIDTH, height=height, fill="#ffffff")]
            + self.items + ["</svg>", ""])


def label_column_width(results):
    """Left column for row labels, shared by both panels so their bars start at the same x."""
    labels = [r["label"] for r in pps_rows(results) + app_rows(results)]
    widest = max([text_width(label, 12) for label in labels] + [0])
    return min(300.0, max(120.0, widest + 14))


def draw_title(canvas, meta):
    """Title line = the run's identity (date, commit, kernel, cores, loss threshold), so a picture
    pasted somewhere on its own still says what it measured."""
    text_w = WIDTH - 2 * MARGIN
    title = " · ".join(["Lab comparison"] + meta_summary(meta))
    for line in wrap(title, text_w, 15):
        canvas.y += 17
        canvas.add(el("text", line, x=MARGIN, y=canvas.y, font_size=15, class_="bold"))
    run = run_summary(meta)
    if run:
        for line in wrap(" · ".join(run), text_w, 11):
            canvas.y += 15
            canvas.add(el("text", line, x=MARGIN, y=canvas.y, font_size=11, class_="muted"))
    canvas.y += 12


def draw_panel_heading(canvas, title, subtitle):
    canvas.y += 18
    canvas.add(el("text", title, x=MARGIN, y=canvas.y, font_size=14, class_="bold"))
    for line in wrap(subtitle, WIDTH - 2 * MARGIN, 11):
        canvas.y += 15
        canvas.add(el("text", line, x=MARGIN, y=canvas.y, font_size=11, class_="muted"))
    canvas.y += 8


def draw_legend(canvas, entries):
    """entries: (build, text) pairs, where build(x, y) returns the swatch's elements. Laid out left to
    right, wrapping to a new line when the canvas is full."""
    x, y = MARGIN, canvas.y + 12
    for build, text in entries:
        width = 22 + text_width(text, 11) + 18
        if x + width > WIDTH - MARGIN and x > MARGIN:
            x, y = MARGIN, y + 18
        canvas.add(*build(x, y))
        canvas.add(el("text", text, x=x + 22, y=y + 4, font_size=11))
        x += width
    canvas.y = y + 12


def draw_axis(canvas, x0, x1, top, bottom, ticks, axis_max, caption):
    """Grid lines behind the bars (returned, to be drawn first) and tick labels below them (added)."""
    grid = []
    for tick in ticks:
        x = x0 + (x1 - x0) * tick / axis_max
        grid.append(el("line", x1=x, y1=top, x2=x, y2=bottom,
                       stroke="#cccccc" if tick else "#888888", stroke_width=1.0))
        canvas.add(el("text", fmt_si(tick), x=x, y=bottom + 14, font_size=10, text_anchor="middle",
                      class_="muted"))
    canvas.add(el("text", caption, x=(x0 + x1) / 2, y=bottom + 30, font_size=11, text_anchor="middle",
                  class_="muted"))
    canvas.y = bottom + 34
    return grid


def draw_pps_panel(canvas, results, colours, label_w):
    rows = pps_rows(results)
    meta = results.get("meta") or {}
    trials = _num(meta.get("trials"))
    draw_panel_heading(
        canvas, "Loss-free pps",
        "Bar and number = median of %s; whisker = min to max; markers = pps delivered when offered "
        "a multiple of the row's own loss-free rate." % (
            "%s trials" % fmt_plain(trials) if trials is not None else "the trials"))
    if not rows:
        canvas.y += 16
        canvas.add(el("text", "No pps measurements.", x=MARGIN, y=canvas.y, font_size=12, class_="muted"))
        canvas.y += 8
        return

    factors = sorted({f for row in rows for f in row["overload"]})
    shapes = marker_shapes(factors)
    legend = [
        (lambda x, y: [el("rect", x=x, y=y - 6, width=16, height=11, fill=OUR_COLOURS[0])], "ours (lb-*)"),
        (lambda x, y: [el("rect", x=x, y=y - 6, width=8, height=11, fill=PEER_COLOURS[0]),
                       el("rect", x=x + 8, y=y - 6, width=8, height=11, fill=PEER_COLOURS[1])],
         "in-kernel peers"),
        (lambda x, y: [el("line", x1=x, y1=y, x2=x + 16, y2=y, stroke="#222222", stroke_width=1.2),
                       el("line", x1=x, y1=y - 4, x2=x, y2=y + 4, stroke="#222222", stroke_width=1.2),
                       el("line", x1=x + 16, y1=y - 4, x2=x + 16, y2=y + 4, stroke="#222222",
                          stroke_width=1.2)], "min to max"),
    ]
    for factor in factors:
        legend.append((lambda x, y, s=shapes[factor]: [marker(s, x + 8, y)],
                       "delivered when offered %s" % fmt_factor(factor)))
    draw_legend(canvas, legend)

    # Axis end covers whiskers and overload markers, which can exceed the loss-free median.
    peak = max([v for row in rows for v in (row["max"], row["median"]) if v is not None]
               + [e["median"] for row in rows for e in row["overload"].values()] + [0])
    axis_max, ticks = nice_ticks(peak)
    x0 = MARGIN + label_w
    x1 = WIDTH - MARGIN - 60          # room for the value printed at the bar's end

    def xs(value):
        return x0 + (x1 - x0) * max(0.0, value) / axis_max

    top = canvas.y + 4
    y = top
    bars = []
    sizes = sorted({row["size"] for row in rows if row["size"] is not None})
    groups = [(s, [r for r in rows if r["size"] == s]) for s in sizes]
    if any(r["size"] is None for r in rows):
        groups.append((None, [r for r in rows if r["size"] is None]))
    for size, group in groups:
        y += GROUP_HEAD
        bars.append(el("text", "%s frames" % fmt_size(size), x=MARGIN, y=y - 5, font_size=12,
                       class_="bold"))
        for row in group:
            bars.extend(pps_bar(row, y, x0, xs, colours, shapes, factors, label_w))
            y += ROW_PITCH
        y += GROUP_GAP
    bottom = y
    grid = draw_axis(canvas, x0, x1, top, bottom, ticks, axis_max, "packets per second")
    canvas.add(*(grid + bars))


def pps_bar(row, y, x0, xs, colours, shapes, factors, label_w):
    """One implementation's bar, whisker, overload markers and value, with a hover tooltip."""
    mid = y + BAR_H / 2
    out = [el("text", fit(row["label"], label_w - 14, 12), x=x0 - 8, y=mid + 4, font_size=12,
              text_anchor="end")]
    median = row["median"]
    tip = "%s, %s: median %s pps (min %s, max %s)" % (
        row["label"], fmt_size(row["size"]), fmt_int(median) or "n/a", fmt_int(row["min"]) or "n/a",
        fmt_int(row["max"]) or "n/a")
    if median is not None:
        out.append(el("rect", [el("title", tip)], x=x0, y=y, width=max(0.0, xs(median) - x0),
                      height=BAR_H, fill=colours.get(row["impl"], PEER_COLOURS[0])))
    ends = [xs(median) if median is not None else x0]
    if row["min"] is not None and row["max"] is not None:
        lo, hi = xs(row["min"]), xs(row["max"])
        out.append(el("line", x1=lo, y1=mid, x2=hi, y2=mid, stroke="#222222", stroke_width=1.2))
        for x in (lo, hi):
            out.append(el("line", x1=x, y1=mid - 4, x2=x, y2=mid + 4, stroke="#222222", stroke_width=1.2))
        ends.append(hi)
    for factor, entry in sorted(row["overload"].items()):
        x = xs(entry["median"])
        cy, r = marker_slot(factors.index(factor), len(factors), y)
        note = "%s: offered %s, delivered %s pps" % (
            fmt_factor(factor), fmt_int(entry["offered"]) or "n/a", fmt_int(entry["median"]))
        out.append(el("g", [el("title", note), marker(shapes[factor], x, cy, r)]))
        ends.append(x + r)
    value = fmt_si(median) if median is not None else "n/a"
    out.append(el("text", value, x=max(ends) + 6, y=mid + 4, font_size=11, class_="bold"))
    return out


def draw_app_panel(canvas, results, colours, label_w):
    rows = app_rows(results)
    draw_panel_heading(canvas, "What applications feel",
                       "Requests per second through each mode; p50 / p99 request latency at the bar's end.")
    peak = max([r["rps"] for r in rows if r["rps"] is not None] + [0])
    axis_max, ticks = nice_ticks(peak)
    x0 = MARGIN + label_w
    x1 = WIDTH - MARGIN - 270         # room for "12 k req/s · p50 0.8 ms · p99 3.1 ms"

    def xs(value):
        return x0 + (x1 - x0) * max(0.0, value) / axis_max

    top = canvas.y + 4
    y = top + 6
    bars = []
    for row in rows:
        mid = y + BAR_H / 2
        bars.append(el("text", fit(row["label"], label_w - 14, 12), x=x0 - 8, y=mid + 4, font_size=12,
                       text_anchor="end"))
        end = x0
        if row["rps"] is not None:
            end = xs(row["rps"])
            tip = "%s: %s requests/s" % (row["label"], fmt_int(row["rps"]))
            bars.append(el("rect", [el("title", tip)], x=x0, y=y, width=end - x0, height=BAR_H,
                           fill=colours.get(row["impl"], PEER_COLOURS[0])))
        rps = fmt_si(row["rps"], "req/s") if row["rps"] is not None else "n/a"
        latency = " · p50 %s ms · p99 %s ms" % (fmt_ms(row["p50_ms"]) or "n/a",
                                                fmt_ms(row["p99_ms"]) or "n/a")
        bars.append(el("text", [el("tspan", rps, class_="bold"), el("tspan", latency, class_="muted")],
                       x=end + 6, y=mid + 4, font_size=11))
        y += ROW_PITCH
    bottom = y + 4
    grid = draw_axis(canvas, x0, x1, top, bottom, ticks, axis_max, "requests per second")
    canvas.add(*(grid + bars))


def draw_footer(canvas, meta):
    canvas.y += 10
    canvas.add(el("line", x1=MARGIN, y1=canvas.y, x2=WIDTH - MARGIN, y2=canvas.y, stroke="#dddddd",
                  stroke_width=1.0))
    lines = []
    if meta.get("placement"):
        lines += wrap("Placement: %s" % meta["placement"], WIDTH - 2 * MARGIN, 11)
    if meta.get("command"):
        lines += wrap("Command: %s" % meta["command"], WIDTH - 2 * MARGIN, 11)
    for line in lines:
        canvas.y += 15
        canvas.add(el("text", line, x=MARGIN, y=canvas.y, font_size=11, class_="muted"))


def svg_document(results):
    meta = results.get("meta") or {}
    colours = impl_colours(results)
    label_w = label_column_width(results)
    canvas = Canvas()
    draw_title(canvas, meta)
    draw_pps_panel(canvas, results, colours, label_w)
    if app_rows(results):
        canvas.y += 10
        draw_app_panel(canvas, results, colours, label_w)
    draw_footer(canvas, meta)
    return canvas.document()


# ---------------------------------------------------------------------------------------------------
# Entry points.
# ---------------------------------------------------------------------------------------------------

def render(results, outdir):
    """Write results.csv, results.svg and results.md into `outdir` (created if missing)."""
    os.makedirs(outdir, exist_ok=True)
    write_csv(results, os.path.join(outdir, "results.csv"))
    with open(os.path.join(outdir, "results.svg"), "w", encoding="utf-8") as f:
        f.write(svg_document(results))
    with open(os.path.join(outdir, "results.md"), "w", encoding="utf-8") as f:
        f.write(markdown(results))


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 2:
        print("usage: report.py RESULTS_JSON OUTDIR", file=sys.stderr)
        return 2
    try:
        with open(argv[0], encoding="utf-8") as f:
            results = json.load(f)
    except (OSError, ValueError) as error:
        print("report.py: cannot read %s: %s" % (argv[0], error), file=sys.stderr)
        return 1
    if not isinstance(results, dict):
        print("report.py: %s is not a results object" % argv[0], file=sys.stderr)
        return 1
    render(results, argv[1])
    # A terminal with a non-UTF-8 locale must not turn the summary into a traceback.
    if hasattr(sys.stdout, "reconfigure"):
        sys.stdout.reconfigure(errors="replace")
    sys.stdout.write(text_table(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
