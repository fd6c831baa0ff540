"""PAC benchmark: size and mean FindProxyForURL time in pacparser for three PAC files over the
same requests, measured in the same run:

- ours: the PAC Breakout generates (DIR/ours.pac);
- or-chain: the shape Microsoft's Get-PacFile produces, one shExpMatch OR-chain per target,
  generated here from DIR/targets.json (the same destinations, grouped by result);
- floor: `return "DIRECT"`, the engine's own per-call cost.

Usage: /usr/bin/python3 tests/pac/bench.py [--runs N] [--min-seconds S] DIR

DIR comes from `BREAKOUT_PAC_WRITE=DIR cargo bench -p breakout-policy --bench pac` (see
deploy/bench/pac.sh). Each measurement is a fresh /usr/bin/python3 process: load the PAC, one
unmeasured pass over all requests, then whole passes until S seconds have passed; the figure is
elapsed time / calls. Each run measures the three PACs in a rotated order; the table gives
medians over the runs, and ratios as the median of the ratios within each run. Prints a
Markdown report.
"""

import argparse
import ipaddress
import json
import os
import platform
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
PYTHON = "/usr/bin/python3"


def orchain_pac(targets):
    """Get-PacFile's shape: host lowercased, plain names DIRECT, then per target one
    `if (shExpMatch(host, ...) || ...) return target;` (IPv4 networks as an isInNet chain, only
    for IPv4-literal hosts so that no DNS is involved), then the default."""
    out = [
        "// Get-PacFile shape: one shExpMatch OR-chain per target (tests/pac/bench.py).",
        "function FindProxyForURL(url, host)",
        "{",
        "    host = host.toLowerCase();",
        "    if (isPlainHostName(host))",
        "    {",
        '        return "DIRECT";',
        "    }",
    ]
    for t in targets["targets"]:
        result = json.dumps(t["result"])
        if t["hosts"]:
            conds = ["shExpMatch(host, {})".format(json.dumps(h)) for h in t["hosts"]]
            out.append("    if(" + "\n        || ".join(conds) + ")")
            out += ["    {", "        return {};".format(result), "    }"]
        if t["networks"]:
            conds = []
            for n in t["networks"]:
                net = ipaddress.ip_network(n)
                conds.append('isInNet(host, "{}", "{}")'.format(net.network_address, net.netmask))
            out.append("    if(/^\\d+\\.\\d+\\.\\d+\\.\\d+$/.test(host) && (" + "\n        || ".join(conds) + "))")
            out += ["    {", "        return {};".format(result), "    }"]
    out += ["    return {};".format(json.dumps(targets["default"])), "}", ""]
    return "\n".join(out)


FLOOR = 'function FindProxyForURL(url, host) {\n    return "DIRECT";\n}\n'


def read_requests(path):
    with open(path, encoding="ascii") as f:
        return [tuple(line.rstrip("\n").split("\t", 1)) for line in f if line.strip()]


def measure(pac, requests_path, min_seconds):
    """In a child process: mean seconds per FindProxyForURL call."""
    import pacparser

    reqs = read_requests(requests_path)
    pacparser.init()
    pacparser.parse_pac_file(pac)
    find = pacparser.find_proxy
    for url, host in reqs:
        find(url, host)
    calls = 0
    start = time.perf_counter()
    while True:
        for url, host in reqs:
            find(url, host)
        calls += len(reqs)
        elapsed = time.perf_counter() - start
        if elapsed >= min_seconds:
            break
    pacparser.cleanup()
    return elapsed / calls


def child(pac, requests_path, min_seconds):
    out = subprocess.run(
        [PYTHON, __file__, "--measure", pac, requests_path, str(min_seconds)],
        check=True, capture_output=True, text=True,
    )
    return float(out.stdout.strip())


def answers(pac, requests_path):
    out = subprocess.run(
        [PYTHON, os.path.join(HERE, "evaluate.py"), pac, requests_path],
        check=True, capture_output=True, text=True,
    )
    return out.stdout.splitlines()


def machine():
    cpu = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    import pacparser
    version = pacparser.version()
    if not version:  # Debian's build reports an empty version: ask dpkg
        try:
            version = subprocess.run(
                ["dpkg-query", "-W", "-f=${Version}", "python3-pacparser"],
                capture_output=True, text=True, check=True).stdout.strip()
        except (OSError, subprocess.CalledProcessError):
            version = "unknown version"
    return "{} cores, {}, Linux {}, Python {}, pacparser {}".format(
        os.cpu_count(), cpu, platform.release(), platform.python_version(), version)


def main():
    if len(sys.argv) == 5 and sys.argv[1] == "--measure":
        print(repr(measure(sys.argv[2], sys.argv[3], float(sys.argv[4]))))
        return 0
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--min-seconds", type=float, default=1.0)
    ap.add_argument("dir")
    args = ap.parse_args()
    try:
        import pacparser  # noqa: F401
    except ImportError:
        print("pacparser is missing: apt-get install -y python3-pacparser", file=sys.stderr)
        return 3

    d = args.dir
    with open(os.path.join(d, "targets.json")) as f:
        targets = json.load(f)
    pacs = {
        "ours": os.path.join(d, "ours.pac"),
        "or-chain": os.path.join(d, "orchain.pac"),
        "floor": os.path.join(d, "floor.pac"),
    }
    with open(pacs["or-chain"], "w") as f:
        f.write(orchain_pac(targets))
    with open(pacs["floor"], "w") as f:
        f.write(FLOOR)
    reqs = os.path.join(d, "requests.tsv")
    n_reqs = len(read_requests(reqs))

    names = list(pacs)
    runs = {n: [] for n in names}
    for r in range(args.runs):
        order = names[r % len(names):] + names[:r % len(names)]
        for n in order:
            runs[n].append(child(pacs[n], reqs, args.min_seconds) * 1e6)
    med = {n: statistics.median(v) for n, v in runs.items()}
    # Ratios within each run (the three PACs measured minutes apart), then their median: robust
    # to a run the shared machine slowed down as a whole.
    ratio = {
        (n, base): statistics.median(a / b for a, b in zip(runs[n], runs[base]))
        for n in names for base in ("floor", "or-chain")
    }
    size = {n: os.path.getsize(p) for n, p in pacs.items()}
    ours_answers = answers(pacs["ours"], reqs)
    chain_answers = answers(pacs["or-chain"], reqs)
    differ = sum(1 for a, b in zip(ours_answers, chain_answers) if a != b)
    n_hosts = len(set(h for _, h in read_requests(reqs)))

    label = {
        "ours": "Breakout (maps + label walk)",
        "or-chain": "Get-PacFile shape (shExpMatch OR-chains)",
        "floor": 'floor (`return "DIRECT"`)',
    }
    print("- machine: {}".format(machine()))
    print("- requests: {} FindProxyForURL calls per pass ({} distinct hosts: every M365 host "
          "instantiated, Google networks, near misses, IP literals)".format(n_reqs, n_hosts))
    print("- runs: {}, each at least {} s of whole passes per PAC; medians below\n".format(
        args.runs, args.min_seconds))
    print("| PAC | bytes | mean µs per call | × floor | ÷ OR-chain |")
    print("|---|---:|---:|---:|---:|")
    for n in names:
        print("| {} | {:,} | {:.2f} | {:.2f}× | {:.3f} |".format(
            label[n], size[n], med[n], ratio[(n, "floor")], ratio[(n, "or-chain")]))
    print("\nTimes are medians over the runs; × floor and ÷ OR-chain are medians of the ratios "
          "within each run.")
    print("\nEvery run (µs per call):\n")
    print("| PAC | " + " | ".join("run {}".format(i + 1) for i in range(args.runs)) + " |")
    print("|---|" + "---:|" * args.runs)
    for n in names:
        print("| {} | ".format(n) + " | ".join("{:.2f}".format(x) for x in runs[n]) + " |")
    ok = lambda b: "yes" if b else "**no**"
    r_chain, r_floor = ratio[("ours", "or-chain")], ratio[("ours", "floor")]
    print("\n- ours ≤ 1/10 of the OR-chain's time: {} ({:.3f})".format(ok(r_chain <= 0.1), r_chain))
    print("- ours within 5× the floor: {} ({:.2f}×)".format(ok(r_floor <= 5), r_floor))
    print("- ours smaller than the OR-chain: {} ({:,} vs {:,} bytes)".format(
        ok(size["ours"] < size["or-chain"]), size["ours"], size["or-chain"]))
    print("- the OR-chain's answer differs from ours (and so from the edge's decision) on {} of {} "
          "calls: first listed instead of most specific, ports ignored, `*` crossing dots, trailing "
          "dots and IPv6 literals not handled, and (as generated here) no private-range "
          "shortcut".format(differ, n_reqs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
