#!/usr/bin/env python3
"""Render a lab comparison results document as CSV, SVG, Markdown and a terminal table.

    /usr/bin/python3 lab/lib/report.py RESULTS_JSON OUTDIR

writes OUTDIR/results.csv, OUTDIR/results.svg and OUTDIR/results.md and prints the tables to stdout.
Other scripts can `import report` (after `sys.path.insert(0, "lab/lib")`) and call
`render(results, outdir)` and `text_table(results)`.

Runs on Debian's /usr/bin/python3 with python3-matplotlib (LAB_PACKAGES in lab/lib/common.sh; test.sh
and compare.sh install it). matplotlib is imported at the top on purpose: compare.py imports this module
before it measures, so a missing package fails the run at its start, not after its last lab.
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

import matplotlib

matplotlib.use("Agg")  # files only, never a display
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.legend_handler import HandlerLine2D, HandlerTuple  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402
from matplotlib.transforms import blended_transform_factory  # noqa: E402

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
# SVG, drawn with matplotlib. The page is laid out top to bottom in points (1/72 in, the SVG's user
# unit): a cursor `y` walks down, each block queues what it draws, and the figure is made once the
# height is known. Inside a panel the y data unit is a point too, so rows keep fixed pitches however
# many there are.
# ---------------------------------------------------------------------------------------------------

WIDTH = 1000        # page width, points
MARGIN = 24
BAR_H = 18          # bar thickness
ROW_PITCH = 24      # bar thickness + gap
GROUP_HEAD = 20     # space for a "64 B" group heading
GROUP_GAP = 8
CHAR_W = 0.58       # average glyph width as a fraction of font size (sans-serif); used only to fit text

INK, MUTED, RULE, GRID, ZERO = "#222222", "#666666", "#dddddd", "#cccccc", "#888888"

# Ours in blues; the in-kernel peers alternate grey and orange so neighbouring peers stay distinct.
OUR_COLOURS = ["#1f5fa8", "#4a90d9", "#0d3b73", "#86b7ea", "#2f74c0"]
PEER_COLOURS = ["#7a7a7a", "#e08a2c", "#b0b0b0", "#f3b66e", "#555555", "#b9651b"]

# Marker per overload factor. 1.5x and 2x are the usual steps; others take the remaining shapes.
# (matplotlib's codes: diamond, triangle, square, circle.)
FIXED_MARKERS = {1.5: "D", 2.0: "^"}
SPARE_MARKERS = ["s", "o"]

STYLE = {
    # Same json, same bytes: fixed ids (clip paths) instead of random ones; no date (see write_svg).
    "svg.hashsalt": "lab-report",
    # Text stays text (searchable, small, readable diffs); a viewer without DejaVu Sans falls back along the list.
    "svg.fonttype": "none",
    "font.family": "sans-serif",
    "font.sans-serif": ["DejaVu Sans", "Helvetica", "Arial"],
    "text.color": INK,
    # Labels come from the document: a '$' in one is text, not mathtext.
    "text.parse_math": False,
}

# Characters XML 1.0 forbids even when escaped; a stray one in a label must not break the file.
_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def is_ours(impl):
    return str(impl).startswith("lb-")


def _clean(text):
    return _XML_INVALID.sub("?", str(text))


def text_width(text, size):
    return len(str(text)) * size * CHAR_W


def fit(text, max_width, size):
    """Shorten text with an ellipsis so it fits `max_width` points at font `size`."""
    text = str(text)
    limit = max(1, int(max_width / (size * CHAR_W)))
    return text if len(text) <= limit else text[:max(0, limit - 1)] + "…"


def wrap(text, max_width, size):
    return textwrap.wrap(str(text), max(10, int(max_width / (size * CHAR_W)))) or [""]


def nice_ticks(vmax, target=5):
    """Axis end and ticks from 0 in steps of 1, 2, 2.5 or 5 x 10^n, at most `target` intervals; the axis
    ends on a tick, so the grid closes the panel."""
    ticks = MaxNLocator(nbins=target, steps=[1, 2, 2.5, 5, 10]).tick_values(0, vmax if vmax and vmax > 0 else 1.0)
    ticks = [float(t) for t in ticks if t >= 0]
    return ticks[-1], ticks


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
        shapes[factor] = fixed or (spare.pop(0) if spare else "o")
    return shapes


def marker_slot(index, count, top):
    """Vertical centre and radius of overload marker `index` of `count` inside a bar starting at `top`.
    Each factor gets its own band of the bar, so markers for close values (1.5x and 2x often deliver
    nearly the same) stay apart and the whisker on the centre line stays visible between them."""
    band = BAR_H / max(1, count)
    return top + band * (index + 0.5), min(5.0, band / 2)


def _marker_style(shape, r):
    """A dark marker with a white rim (so it shows on a bar of any colour), `r` points in radius; a small
    one gets a thinner rim, or the rim is all there is of it."""
    return dict(linestyle="none", marker=shape, markersize=2 * r * (0.8 if shape == "D" else 1.0),
                color="#111111", markeredgecolor="#ffffff", markeredgewidth=1.0 if r >= 4 else 0.5)


class Page:
    """The cursor and the queued drawing; figure() makes the figure once the height is known."""

    def __init__(self):
        self.y = MARGIN
        self.ops = []

    def draw(self, op):
        """op(fig, place): place(x, y) turns page points into figure fractions."""
        self.ops.append(op)

    def text(self, x, y, text, size, muted=False, bold=False):
        """One line with its baseline at page point (x, y)."""
        self.draw(lambda fig, place: fig.text(*place(x, y), _clean(text), fontsize=size, va="baseline",
                                              color=MUTED if muted else INK, fontweight="bold" if bold else "normal"))

    def lines(self, text, size, pitch, muted=False, bold=False):
        """Text wrapped to the page width, one line every `pitch` points."""
        for line in wrap(text, WIDTH - 2 * MARGIN, size):
            self.y += pitch
            self.text(MARGIN, self.y, line, size, muted, bold)

    def figure(self):
        height = math.ceil(self.y + MARGIN)
        fig = Figure(figsize=(WIDTH / 72, height / 72), facecolor="#ffffff")

        def place(x, y):
            return x / WIDTH, 1 - y / height

        for op in self.ops:
            op(fig, place)
        return fig


def label_column_width(results):
    """Left column for row labels, shared by both panels so their bars start at the same x."""
    labels = [r["label"] for r in pps_rows(results) + app_rows(results)]
    widest = max([text_width(label, 12) for label in labels] + [0])
    return min(300.0, max(120.0, widest + 14))


def panel_axes(fig, place, x0, top, x1, bottom, axis_max, ticks, caption):
    """Axes over page points x0..x1, top..bottom: x from 0 to axis_max with ticks and gridlines behind
    the bars, y in points from the top. Row labels are its y tick labels."""
    left, lower = place(x0, bottom)
    right, upper = place(x1, top)
    ax = fig.add_axes([left, lower, right - left, upper - lower])
    ax.set_xlim(0, axis_max)
    ax.set_ylim(bottom - top, 0)
    for spine in ax.spines.values():
        spine.set_visible(False)
    ax.set_xticks(ticks, [fmt_si(t) for t in ticks])
    ax.tick_params(axis="x", length=0, pad=3, labelsize=10, labelcolor=MUTED)
    ax.tick_params(axis="y", length=0, pad=8, labelsize=12, labelcolor=INK)
    ax.set_axisbelow(True)
    ax.grid(axis="x", color=GRID, linewidth=1.0)
    ax.axvline(0, color=ZERO, linewidth=1.0, zorder=0.5)
    ax.set_xlabel(caption, fontsize=11, color=MUTED, labelpad=4)
    ax.set_facecolor("none")
    return ax


def draw_title(page, meta):
    """Title line = the run's identity (date, commit, kernel, cores, loss threshold), so a picture
    pasted somewhere on its own still says what it measured."""
    page.lines(" · ".join(["Lab comparison"] + meta_summary(meta)), 15, 17, bold=True)
    run = run_summary(meta)
    if run:
        page.lines(" · ".join(run), 11, 15, muted=True)
    page.y += 12


def draw_panel_heading(page, title, subtitle):
    page.y += 18
    page.text(MARGIN, page.y, title, 14, bold=True)
    page.lines(subtitle, 11, 15, muted=True)
    page.y += 8


def draw_legend(page, entries, handlers):
    """entries: (handle, text) pairs, laid out left to right and wrapped to a new line (its own legend)
    when the page is full; handlers: matplotlib's handler_map for handles drawn their own way."""
    rows, x = [[]], MARGIN
    for handle, text in entries:
        width = 22 + text_width(text, 11) + 18
        if x + width > WIDTH - MARGIN and rows[-1]:
            rows.append([])
            x = MARGIN
        rows[-1].append((handle, text))
        x += width
    for i, row in enumerate(rows):
        top = page.y + 18 * i

        def op(fig, place, row=row, top=top):
            # Figure legends add up (an axes legend would replace the previous one).
            fig.legend([h for h, _ in row], [_clean(t) for _, t in row], loc="upper left", bbox_to_anchor=place(MARGIN, top + 2),
                       ncol=len(row), frameon=False, fontsize=11, handlelength=1.6, handletextpad=0.5, columnspacing=1.6,
                       borderpad=0, borderaxespad=0, labelcolor=INK,
                       handler_map=handlers)

        page.draw(op)
    page.y += 18 * len(rows) + 6


def draw_pps_panel(page, results, colours, label_w):
    rows = pps_rows(results)
    meta = results.get("meta") or {}
    trials = _num(meta.get("trials"))
    draw_panel_heading(
        page, "Loss-free pps",
        "Bar and number = median of %s; whisker = min to max; markers = pps delivered when offered "
        "a multiple of the row's own loss-free rate." % (
            "%s trial%s" % (fmt_plain(trials), "" if trials == 1 else "s") if trials is not None else "the trials"))
    if not rows:
        page.y += 16
        page.text(MARGIN, page.y, "No pps measurements.", 12, muted=True)
        page.y += 8
        return

    factors = sorted({f for row in rows for f in row["overload"]})
    shapes = marker_shapes(factors)
    whisker = Line2D([], [], color=INK, linewidth=1.2, marker="|", markersize=8, markeredgewidth=1.2)
    legend = [
        (Patch(facecolor=OUR_COLOURS[0]), "ours (lb-*)"),
        ((Patch(facecolor=PEER_COLOURS[0]), Patch(facecolor=PEER_COLOURS[1])), "in-kernel peers"),
        (whisker, "min to max"),
    ]
    for factor in factors:
        legend.append((Line2D([], [], **_marker_style(shapes[factor], 5.0)),
                       "delivered when offered %s" % fmt_factor(factor)))
    # The peers' swatch is two patches side by side; the whisker has a cap at each end.
    draw_legend(page, legend, {tuple: HandlerTuple(ndivide=None, pad=0), whisker: HandlerLine2D(numpoints=2)})

    # Axis end covers whiskers and overload markers, which can exceed the loss-free median.
    peak = max([v for row in rows for v in (row["max"], row["median"]) if v is not None]
               + [e["median"] for row in rows for e in row["overload"].values()] + [0])
    axis_max, ticks = nice_ticks(peak)
    x0 = MARGIN + label_w
    x1 = WIDTH - MARGIN - 60          # room for the value printed at the bar's end

    sizes = sorted({row["size"] for row in rows if row["size"] is not None})
    groups = [(s, [r for r in rows if r["size"] == s]) for s in sizes]
    if any(r["size"] is None for r in rows):
        groups.append((None, [r for r in rows if r["size"] is None]))
    top = page.y + 4
    y, placed, headings = 0, [], []   # y: points below the panel's top
    for size, group in groups:
        y += GROUP_HEAD
        headings.append((y - 5, "%s frames" % fmt_size(size)))
        for row in group:
            placed.append((y, row))
            y += ROW_PITCH
        y += GROUP_GAP
    bottom = top + y

    def op(fig, place):
        ax = panel_axes(fig, place, x0, top, x1, bottom, axis_max, ticks, "packets per second")
        heading_at = blended_transform_factory(fig.transFigure, ax.transData)
        for baseline, text in headings:
            ax.text(MARGIN / WIDTH, baseline, text, transform=heading_at, fontsize=12, fontweight="bold", va="baseline")
        ax.set_yticks([y + BAR_H / 2 for y, _ in placed], [_clean(fit(r["label"], label_w - 14, 12)) for _, r in placed])
        for y, row in placed:
            pps_bar(ax, row, y, x0, x1, axis_max, colours, shapes, factors)

    page.draw(op)
    page.y = bottom + 34


def pps_bar(ax, row, y, x0, x1, axis_max, colours, shapes, factors):
    """One implementation's bar, whisker, overload markers and the median printed after the last of them."""
    per_point = axis_max / (x1 - x0)  # data units per page point, to keep gaps in points
    mid = y + BAR_H / 2
    median = row["median"]
    if median is not None:
        ax.barh(mid, max(0.0, median), height=BAR_H, color=colours.get(row["impl"], PEER_COLOURS[0]), zorder=2)
    ends = [max(0.0, median) if median is not None else 0.0]
    if row["min"] is not None and row["max"] is not None:
        lo, hi = max(0.0, row["min"]), max(0.0, row["max"])
        ax.hlines(mid, lo, hi, color=INK, linewidth=1.2, zorder=3)
        ax.vlines([lo, hi], mid - 4, mid + 4, color=INK, linewidth=1.2, zorder=3)
        ends.append(hi)
    for factor, entry in sorted(row["overload"].items()):
        x = max(0.0, entry["median"])
        cy, r = marker_slot(factors.index(factor), len(factors), y)
        ax.plot([x], [cy], zorder=4, **_marker_style(shapes[factor], r))
        ends.append(x + r * per_point)
    value = fmt_si(median) if median is not None else "n/a"
    ax.text(max(ends) + 6 * per_point, mid, value, fontsize=11, fontweight="bold", va="center")


def draw_app_panel(page, results, colours, label_w):
    rows = app_rows(results)
    draw_panel_heading(page, "What applications feel",
                       "Requests per second through each mode; p50 / p99 request latency at the bar's end.")
    peak = max([r["rps"] for r in rows if r["rps"] is not None] + [0])
    axis_max, ticks = nice_ticks(peak)
    x0 = MARGIN + label_w
    x1 = WIDTH - MARGIN - 270         # room for "12 k req/s · p50 0.8 ms · p99 3.1 ms"
    top = page.y + 4
    bottom = top + 6 + ROW_PITCH * len(rows) + 4

    def op(fig, place):
        ax = panel_axes(fig, place, x0, top, x1, bottom, axis_max, ticks, "requests per second")
        mids = [6 + i * ROW_PITCH + BAR_H / 2 for i in range(len(rows))]
        ax.set_yticks(mids, [_clean(fit(r["label"], label_w - 14, 12)) for r in rows])
        for mid, row in zip(mids, rows):
            end = 0.0
            if row["rps"] is not None:
                end = max(0.0, row["rps"])
                ax.barh(mid, end, height=BAR_H, color=colours.get(row["impl"], PEER_COLOURS[0]), zorder=2)
            rps = fmt_si(row["rps"], "req/s") if row["rps"] is not None else "n/a"
            latency = "· p50 %s ms · p99 %s ms" % (fmt_ms(row["p50_ms"]) or "n/a", fmt_ms(row["p99_ms"]) or "n/a")
            first = ax.annotate(rps, (end, mid), xytext=(6, 0), textcoords="offset points", fontsize=11,
                                fontweight="bold", va="center")
            # Right after the bold part, wherever the renderer put its end (a gap in points: SVG viewers
            # collapse a leading space).
            ax.annotate(latency, (1, 0.5), xycoords=first, xytext=(4, 0), textcoords="offset points", fontsize=11,
                        color=MUTED, va="center")

    page.draw(op)
    page.y = bottom + 34


def draw_footer(page, meta):
    page.y += 10
    rule = page.y
    page.draw(lambda fig, place: fig.add_artist(Line2D(*zip(place(MARGIN, rule), place(WIDTH - MARGIN, rule)),
                                                       color=RULE, linewidth=1.0)))
    if meta.get("placement"):
        page.lines("Placement: %s" % meta["placement"], 11, 15, muted=True)
    if meta.get("command"):
        page.lines("Command: %s" % meta["command"], 11, 15, muted=True)


def figure(results):
    """The comparison as a matplotlib Figure: title, loss-free pps panel, application panel, footer."""
    meta = results.get("meta") or {}
    colours = impl_colours(results)
    label_w = label_column_width(results)
    page = Page()
    draw_title(page, meta)
    draw_pps_panel(page, results, colours, label_w)
    if app_rows(results):
        page.y += 10
        draw_app_panel(page, results, colours, label_w)
    draw_footer(page, meta)
    return page.figure()


def write_svg(results, path):
    with matplotlib.rc_context(STYLE):
        # No Date: a re-render of the same document must not change the file.
        figure(results).savefig(path, format="svg", metadata={"Date": None})

# ---------------------------------------------------------------------------------------------------
# Entry points.
# ---------------------------------------------------------------------------------------------------

def render(results, outdir):
    """Write results.csv, results.svg and results.md into `outdir` (created if missing)."""
    os.makedirs(outdir, exist_ok=True)
    write_csv(results, os.path.join(outdir, "results.csv"))
    write_svg(results, os.path.join(outdir, "results.svg"))
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
