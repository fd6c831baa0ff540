#!/usr/bin/env python3
"""Draws docs/fleet-scale.svg from fleet-sim's `fleet-json:` lines (one JSON object per line):
one panel per figure, tenants on a log axis, one line per edge count, the median of the runs at
each point. Plain SVG written directly (no plotting library to install).

    python3 deploy/bench/fleet_plot.py deploy/bench/fleet-growth.jsonl docs/fleet-scale.svg
"""
import json
import math
import statistics
import sys

PANELS = [
    ("rule_p99_ms", "one-tenant rule change, p99 ms", 100.0),
    ("template_all_s", "template change (90% of tenants), all edges, s", 5.0),
    ("reconnect_s", "full fleet reconnect after a leader kill, s", 30.0),
    ("leader_cpu", "leader CPU in steady state, cores", 0.5),
    ("leader_rss_mib", "leader RSS in steady state, MiB", None),
    ("snapshot_mib", "a region's snapshot, MiB", None),
]
COLOURS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd"]
W, H, PAD_L, PAD_B, PAD_T = 300, 210, 52, 34, 26


def load(path):
    rows = []
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line:
                r = json.loads(line)
                if "failed" in r:
                    # fleet-growth.sh's record of a run that did not finish: no figures.
                    continue
                r["snapshot_mib"] = r["snapshot_bytes"] / 1048576
                rows.append(r)
    return rows


def medians(rows, key):
    series = {}
    for r in rows:
        v = r.get(key)
        if v is None or (isinstance(v, float) and math.isnan(v)):
            continue
        series.setdefault(r["edges"], {}).setdefault(r["tenants"], []).append(v)
    return {e: sorted((t, statistics.median(vs)) for t, vs in pts.items())
            for e, pts in sorted(series.items())}


def panel(x0, y0, title, series, target):
    out = [f'<g transform="translate({x0},{y0})">',
           f'<text x="{W/2}" y="14" text-anchor="middle" font-size="11">{title}</text>']
    xs = [t for pts in series.values() for t, _ in pts] or [1000, 100000]
    ys = [v for pts in series.values() for _, v in pts] + ([target] if target else [])
    lx0, lx1 = math.log10(min(xs)), math.log10(max(xs))
    if lx1 == lx0:
        lx0, lx1 = lx0 - 0.5, lx1 + 0.5
    ymax = max(ys + [1e-9]) * 1.15
    pw, ph = W - PAD_L - 10, H - PAD_B - PAD_T

    def px(t):
        return PAD_L + (math.log10(t) - lx0) / (lx1 - lx0) * pw

    def py(v):
        return PAD_T + ph - v / ymax * ph

    out.append(f'<rect x="{PAD_L}" y="{PAD_T}" width="{pw}" height="{ph}" fill="none" stroke="#999"/>')
    for k in range(5):
        v = ymax * k / 4
        out.append(f'<text x="{PAD_L-4}" y="{py(v)+3:.1f}" text-anchor="end" font-size="9">{v:.3g}</text>')
    for t in sorted(set(xs)):
        out.append(f'<text x="{px(t):.1f}" y="{PAD_T+ph+12}" text-anchor="middle" font-size="9">{t:,}</text>')
    out.append(f'<text x="{PAD_L+pw/2}" y="{H-4}" text-anchor="middle" font-size="9">tenants</text>')
    if target:
        out.append(f'<line x1="{PAD_L}" x2="{PAD_L+pw}" y1="{py(target):.1f}" y2="{py(target):.1f}" '
                   f'stroke="#888" stroke-dasharray="4,3"/>'
                   f'<text x="{PAD_L+pw-2}" y="{py(target)-3:.1f}" text-anchor="end" font-size="9" '
                   f'fill="#666">target {target:g}</text>')
    for i, (edges, pts) in enumerate(series.items()):
        c = COLOURS[i % len(COLOURS)]
        path = " ".join(f"{px(t):.1f},{py(v):.1f}" for t, v in pts)
        out.append(f'<polyline points="{path}" fill="none" stroke="{c}" stroke-width="1.6"/>')
        for t, v in pts:
            out.append(f'<circle cx="{px(t):.1f}" cy="{py(v):.1f}" r="2.5" fill="{c}"/>')
        out.append(f'<text x="{PAD_L+6}" y="{PAD_T+12+12*i}" font-size="9" fill="{c}">{edges} edges</text>')
    out.append("</g>")
    return out


def main():
    rows = load(sys.argv[1])
    cols = 3
    rows_n = math.ceil(len(PANELS) / cols)
    svg = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W*cols}" height="{H*rows_n+24}" '
           f'font-family="sans-serif">',
           f'<text x="8" y="16" font-size="12">Breakout control plane at fleet scale '
           f'(deploy/bench/fleet-growth.sh; medians of runs; 20 regions, 3 nodes, one 2-core machine)</text>']
    for i, (key, title, target) in enumerate(PANELS):
        svg += panel((i % cols) * W, 24 + (i // cols) * H, title, medians(rows, key), target)
    svg.append("</svg>")
    with open(sys.argv[2], "w") as f:
        f.write("\n".join(svg) + "\n")


if __name__ == "__main__":
    main()
