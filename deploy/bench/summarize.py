#!/usr/bin/env python3
"""Helpers for deploy/bench/run.sh (standard library only).

  summarize.py wrk FILE          parse wrk --latency output; prints
                                 "requests rps p50_ms p99_ms other_socket_errors read_errors non2xx"
  summarize.py report RAW META   print the Markdown report: medians over runs,
                                 ratios against squid and direct, raw figures

RAW holds one measurement a line: "run<TAB>target<TAB>metric<TAB>value", where
value is a number or NA (the measurement failed or was rejected). META holds
"key<TAB>value" lines shown at the top of the report.
"""

import re
import statistics
import sys
from collections import OrderedDict

UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3, "h": 3600e3}


def to_ms(text):
    m = re.fullmatch(r"([0-9.]+)(us|ms|s|m|h)", text)
    if not m:
        raise ValueError(f"unparsable wrk latency {text!r}")
    return float(m.group(1)) * UNITS[m.group(2)]


def parse_wrk(path):
    text = open(path).read()
    m = re.search(r"^\s*(\d+) requests in ", text, re.M)
    requests = int(m.group(1)) if m else 0
    m = re.search(r"^Requests/sec:\s*([0-9.]+)", text, re.M)
    rps = float(m.group(1)) if m else 0.0
    pct = dict(re.findall(r"^\s*(50|99)%\s+(\S+)", text, re.M))
    p50 = to_ms(pct["50"]) if "50" in pct else float("nan")
    p99 = to_ms(pct["99"]) if "99" in pct else float("nan")
    m = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text
    )
    connect, read, write, timeout = (int(x) for x in m.groups()) if m else (0, 0, 0, 0)
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    non2xx = int(m.group(1)) if m else 0
    print(f"{requests} {rps:.2f} {p50:.4f} {p99:.4f} {connect + write + timeout} {read} {non2xx}")


# metric key -> (column title, format)
METRICS = OrderedDict([
    ("rps", ("small req/s", "{:,.0f}")),
    ("p50_ms", ("p50 ms", "{:.2f}")),
    ("p99_ms", ("p99 ms", "{:.2f}")),
    ("cpu_us_per_req", ("CPU µs/req", "{:.1f}")),
    ("runq_us_per_req", ("run-queue wait µs/req", "{:.1f}")),
    ("bulk_MBps", ("bulk MB/s", "{:,.0f}")),
    ("idle_kib_per_tunnel", ("RSS KiB/idle tunnel", "{:.1f}")),
    ("idle_tunnels_ok", ("tunnels held", "{:.0f}")),
    ("origin_conns", ("origin conns", "{:.0f}")),
    ("short_cps", ("short CONNECT conn/s", "{:,.0f}")),
    ("short_p50_ms", ("short p50 ms", "{:.2f}")),
    ("short_p99_ms", ("short p99 ms", "{:.2f}")),
    ("cpu_us_per_conn", ("CPU µs/conn", "{:.1f}")),
    ("runq_us_per_conn", ("run-queue wait µs/conn", "{:.1f}")),
    ("origin_cpu_us_per_conn", ("origin CPU µs/conn", "{:.1f}")),
    ("client_cpu_us_per_conn", ("client CPU µs/conn", "{:.1f}")),
])
TARGET_ORDER = ["edge", "squid", "tinyproxy", "direct"]


def load(raw_path):
    data = {}  # (target, metric) -> list of (run, value or None)
    runs = set()
    for line in open(raw_path):
        line = line.rstrip("\n")
        if not line:
            continue
        run, target, metric, value = line.split("\t")
        runs.add(int(run))
        v = None if value == "NA" else float(value)
        data.setdefault((target, metric), []).append((int(run), v))
    return data, sorted(runs)


def median(data, target, metric):
    vals = [v for _, v in data.get((target, metric), []) if v is not None]
    return statistics.median(vals) if vals else None


def fmt(metric, v):
    return "–" if v is None else METRICS[metric][1].format(v)


def ratio(a, b):
    if a is None or b is None or b == 0:
        return "–"
    return f"{a / b:.2f}×"


def report(raw_path, meta_path):
    data, runs = load(raw_path)
    meta = []
    for line in open(meta_path):
        line = line.rstrip("\n")
        if line:
            k, _, v = line.partition("\t")
            meta.append((k, v))
    targets = [t for t in TARGET_ORDER if any(k[0] == t for k in data)]
    targets += sorted({k[0] for k in data} - set(targets))

    out = []
    title = dict(meta).get("title", "Benchmark")
    out.append(f"## {title}")
    out.append("")
    for k, v in meta:
        if k != "title":
            out.append(f"- {k}: {v}")
    out.append("")
    out.append(f"Medians over {len(runs)} run(s). Ratios are ratios of medians "
               "measured in this same run: ×squid = this target ÷ squid, "
               "×direct = this target ÷ direct (higher is better for req/s and "
               "MB/s, lower is better for CPU and KiB).")
    out.append("")
    head = ["target", "small req/s", "×squid", "×direct", "p50 ms", "p99 ms",
            "CPU µs/req", "×squid", "bulk MB/s", "×direct", "×squid",
            "RSS KiB/idle tunnel", "×squid", "tunnels held"]
    out.append("| " + " | ".join(head) + " |")
    out.append("|" + "|".join(["---"] + ["---:"] * (len(head) - 1)) + "|")
    m = lambda t, k: median(data, t, k)  # noqa: E731
    for t in targets:
        row = [
            t,
            fmt("rps", m(t, "rps")),
            ratio(m(t, "rps"), m("squid", "rps")),
            ratio(m(t, "rps"), m("direct", "rps")),
            fmt("p50_ms", m(t, "p50_ms")),
            fmt("p99_ms", m(t, "p99_ms")),
            fmt("cpu_us_per_req", m(t, "cpu_us_per_req")),
            ratio(m(t, "cpu_us_per_req"), m("squid", "cpu_us_per_req")),
            fmt("bulk_MBps", m(t, "bulk_MBps")),
            ratio(m(t, "bulk_MBps"), m("direct", "bulk_MBps")),
            ratio(m(t, "bulk_MBps"), m("squid", "bulk_MBps")),
            fmt("idle_kib_per_tunnel", m(t, "idle_kib_per_tunnel")),
            ratio(m(t, "idle_kib_per_tunnel"), m("squid", "idle_kib_per_tunnel")),
            fmt("idle_tunnels_ok", m(t, "idle_tunnels_ok")),
        ]
        out.append("| " + " | ".join(row) + " |")
    short = [t for t in targets if m(t, "short_cps") is not None]
    if short:
        out.append("")
        out.append("New connections (short CONNECT sessions: CONNECT, 200, one small GET "
                   "through the tunnel, close):")
        out.append("")
        head = ["target", "conn/s", "×squid", "p50 ms", "p99 ms", "CPU µs/conn", "×squid",
                "origin µs/conn", "client µs/conn"]
        out.append("| " + " | ".join(head) + " |")
        out.append("|" + "|".join(["---"] + ["---:"] * (len(head) - 1)) + "|")
        for t in short:
            row = [
                t,
                fmt("short_cps", m(t, "short_cps")),
                ratio(m(t, "short_cps"), m("squid", "short_cps")),
                fmt("short_p50_ms", m(t, "short_p50_ms")),
                fmt("short_p99_ms", m(t, "short_p99_ms")),
                fmt("cpu_us_per_conn", m(t, "cpu_us_per_conn")),
                ratio(m(t, "cpu_us_per_conn"), m("squid", "cpu_us_per_conn")),
                fmt("origin_cpu_us_per_conn", m(t, "origin_cpu_us_per_conn")),
                fmt("client_cpu_us_per_conn", m(t, "client_cpu_us_per_conn")),
            ]
            out.append("| " + " | ".join(row) + " |")
    out.append("")
    out.append("Every figure of every run (NA = measurement failed or was "
               "rejected; see the run's log):")
    out.append("")
    out.append("| target | figure | " + " | ".join(f"run {r}" for r in runs)
               + " | median |")
    out.append("|---|---|" + "---:|" * (len(runs) + 1))
    for t in targets:
        for k in METRICS:
            vals = dict(data.get((t, k), []))
            if not vals:
                continue
            cells = [fmt(k, vals.get(r)) if r in vals else "" for r in runs]
            out.append(f"| {t} | {METRICS[k][0]} | " + " | ".join(cells)
                       + f" | {fmt(k, median(data, t, k))} |")
    print("\n".join(out))


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "wrk":
        parse_wrk(sys.argv[2])
    elif len(sys.argv) == 4 and sys.argv[1] == "report":
        report(sys.argv[2], sys.argv[3])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
