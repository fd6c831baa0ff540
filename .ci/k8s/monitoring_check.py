"""The monitoring check (issue #12): the dev deployment (`breakout-control dev`, a control plane
and an edge, polling vendor lists from a local server) scraped by a real Prometheus (Debian's
`prometheus`) that loads deploy/monitoring/rules; traffic through the edge that is allowed,
blocked and over the tenant's limit; then every dashboard panel query, every template
variable and every alert expression evaluated through Prometheus's HTTP API. Each must parse;
each dashboard query must return data (a panel naming a metric nobody exports fails); every
rule must evaluate without error.

usage: python monitoring_check.py   (binaries from $CARGO_TARGET_DIR or target/, debug build)
"""

import http.server
import json
import os
import pathlib
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request

ROOT = pathlib.Path(__file__).resolve().parents[2]
BIN = pathlib.Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target")) / "debug"
DASHBOARDS = ROOT / "deploy" / "monitoring" / "dashboards"
RULES = ROOT / "deploy" / "monitoring" / "rules" / "breakout.rules.yaml"
FIXTURES = ROOT / "tests" / "fixtures"
# What Grafana would put in: the tenant the dev deployment creates, a rate window that spans
# several of this test's 1 s scrapes.
GRAFANA_VARS = {"$__rate_interval": "20s", "$tenant": "demo"}
DEADLINE = 120


def fail(msg):
    print(f"monitoring check: FAILED: {msg}", file=sys.stderr)
    sys.exit(1)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(what, probe, deadline=60):
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        value = probe()
        if value:
            return value
        time.sleep(0.2)
    fail(f"timed out waiting for {what}")


class Files(http.server.BaseHTTPRequestHandler):
    """The vendors' list services (M365 web service, Google's ranges) and a plain origin."""

    PAGES = {
        "/version/Worldwide": json.dumps({"instance": "Worldwide", "latest": "2026110100"}).encode(),
        "/endpoints/Worldwide": (FIXTURES / "m365-worldwide-endpoints.json").read_bytes(),
        "/goog.json": (FIXTURES / "google-goog.json").read_bytes(),
        "/cloud.json": (FIXTURES / "google-cloud.json").read_bytes(),
        "/": b"hello from the origin\n",
    }

    def do_GET(self):
        body = self.PAGES.get(urllib.parse.urlsplit(self.path).path)
        self.send_response(200 if body is not None else 404)
        body = body if body is not None else b"not found\n"
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def serve_files():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Files)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server.server_address[1]


def start_dev(work, files_port):
    addr_file = work / "dev.json"
    log = open(work / "dev.log", "wb")
    listen = "127.0.0.1:0"
    cmd = [
        str(BIN / "breakout-control"), "dev", "--dir", str(work / "dev"),
        "--edge-bin", str(BIN / "breakout-edge"),
        "--api-listen", listen, "--raft-listen", listen, "--edge-listen", listen,
        "--metrics-listen", listen, "--proxy-listen", listen, "--edge-admin-listen", listen,
        "--allow-private-destinations", "--addr-file", str(addr_file),
        "--",
        "--template-poll", "--template-poll-interval", "2",
        "--template-m365-url", f"http://127.0.0.1:{files_port}",
        "--template-goog-url", f"http://127.0.0.1:{files_port}/goog.json",
        "--template-cloud-url", f"http://127.0.0.1:{files_port}/cloud.json",
    ]
    env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
    env.update(BREAKOUT_LOG="warn")
    env.pop("BREAKOUT_ADMIN_TOKEN", None)
    env.pop("BREAKOUT_EDGE_TOKEN", None)
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env)

    def ready():
        if proc.poll() is not None:
            fail(f"the dev deployment exited: {(work / 'dev.log').read_text()[-2000:]}")
        try:
            return json.loads(addr_file.read_text())
        except (OSError, ValueError):
            return None

    return proc, wait_for("the dev deployment", ready, 90)


def start_prometheus(work, addrs):
    port = free_port()
    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(RULES)],
        "scrape_configs": [
            {"job_name": "breakout-control", "static_configs": [{"targets": [addrs["metrics"]]}]},
            {"job_name": "breakout-edge", "static_configs": [{"targets": [addrs["admin"]]}]},
        ],
    }
    (work / "prometheus.yml").write_text(json.dumps(config))
    log = open(work / "prometheus.log", "wb")
    proc = subprocess.Popen(
        ["prometheus", f"--config.file={work / 'prometheus.yml'}",
         f"--storage.tsdb.path={work / 'tsdb'}", f"--web.listen-address=127.0.0.1:{port}"],
        stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    wait_for("Prometheus to be ready", lambda: get(f"{base}/-/ready", raw=True) is not None)
    return proc, base


def get(url, raw=False):
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(url, timeout=10) as resp:
            body = resp.read()
    except urllib.error.HTTPError as e:
        body = e.read()
        if raw:
            return None
    except OSError:
        return None
    return body if raw else json.loads(body)


def curl(proxy, url, *extra):
    out = subprocess.run(
        ["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "10",
         "-x", f"http://{proxy}", *extra, url],
        capture_output=True, text=True, env={"PATH": os.environ["PATH"]})
    return out.stdout.strip()


def drive_traffic(addrs, files_port):
    """Allowed, blocked and over-limit requests through the edge, as tenant demo (127.0.0.1)."""
    proxy = addrs["proxy"]
    origin = f"http://127.0.0.1:{files_port}/"
    for _ in range(20):
        if curl(proxy, origin) != "200":
            fail("an allowed request through the edge did not succeed")
    for _ in range(5):
        if curl(proxy, "http://blocked.example.net/") != "403":
            fail("a request to the demo blocklist was not refused with 403")
    ctl = [str(BIN / "breakoutctl"), "--server", f"http://{addrs['api']}",
           "--token-file", addrs["token_file"]]
    subprocess.run([*ctl, "tenant", "set-cap", "demo", "1"], check=True, capture_output=True)
    # One session held open; the edge's grant falls to 1; the next session is over the limit.
    host, port = proxy.rsplit(":", 1)
    held = socket.create_connection((host, int(port)))
    held.sendall(f"GET {origin} HTTP/1.1\r\nHost: 127.0.0.1:{files_port}\r\n\r\n".encode())
    held.recv(4096)
    wait_for("a session refused over the limit", lambda: curl(proxy, origin) == "503", 30)
    for _ in range(5):
        curl(proxy, origin)
    return held


def queries():
    """(where, PromQL, must return data) for every dashboard target, variable and alert."""
    out = []
    for path in sorted(DASHBOARDS.glob("*.json")):
        board = json.loads(path.read_text())
        for var in board.get("templating", {}).get("list", []):
            m = re.fullmatch(r"label_values\((.+),\s*(\w+)\)", str(var.get("query", "")))
            if var.get("type") == "query":
                if not m:
                    fail(f"{path.name}: variable {var['name']}: unsupported query {var.get('query')}")
                out.append((f"{path.name} variable {var['name']}", f"group by ({m[2]}) ({m[1]})", True))
        for panel in board.get("panels", []):
            for target in panel.get("targets") or []:
                expr = target["expr"]
                for k, v in GRAFANA_VARS.items():
                    expr = expr.replace(k, v)
                if "$" in expr:
                    fail(f"{path.name} / {panel['title']}: unresolved variable in {expr}")
                out.append((f"{path.name} / {panel['title']} [{target['refId']}]", expr, True))
    import yaml

    for group in yaml.safe_load(RULES.read_text())["groups"]:
        for rule in group["rules"]:
            out.append((f"alert {rule['alert']}", rule["expr"], False))
    return out


def check(base, todo):
    """Polls until every data query has data; returns the problems left at the deadline."""
    end = time.monotonic() + DEADLINE
    while True:
        problems = []
        for where, expr, needs_data in todo:
            answer = get(f"{base}/api/v1/query?" + urllib.parse.urlencode({"query": expr}))
            if not answer or answer.get("status") != "success":
                problems.append((where, expr, f"does not evaluate: {answer and answer.get('error')}"))
            elif needs_data and not answer["data"]["result"]:
                problems.append((where, expr, "returns no data"))
        parse_errors = [p for p in problems if p[2].startswith("does not")]
        if parse_errors or not problems or time.monotonic() > end:
            return problems
        time.sleep(2)


def check_rules(base):
    """(rule count, rules in error) once every rule has been evaluated; None before."""
    answer = get(f"{base}/api/v1/rules")
    rules = [r for g in answer["data"]["groups"] for r in g["rules"]]
    if not rules or any(r.get("health") == "unknown" for r in rules):
        return None
    bad = [(r["name"], r.get("lastError")) for r in rules if r.get("health") != "ok"]
    return len(rules), bad


def main():
    if not (BIN / "breakout-control").exists():
        fail(f"no binaries in {BIN}: cargo build --workspace --bins first")
    todo = queries()
    procs = []
    with tempfile.TemporaryDirectory(prefix="breakout-monitoring-") as tmp:
        work = pathlib.Path(tmp)
        try:
            files_port = serve_files()
            dev, addrs = start_dev(work, files_port)
            procs.append(dev)
            prom, base = start_prometheus(work, addrs)
            procs.append(prom)
            held = drive_traffic(addrs, files_port)
            problems = check(base, todo)
            held.close()
            count, bad_rules = wait_for("every rule evaluated", lambda: check_rules(base), 30)
            for name, err in bad_rules:
                problems.append((f"rule {name}", "", f"evaluates with an error: {err}"))
            if problems:
                for where, expr, why in problems:
                    print(f"  {where}: {why}\n      {expr}", file=sys.stderr)
                fail(f"{len(problems)} of {len(todo)} queries and rules")
            data = sum(1 for q in todo if q[2])
            print(f"monitoring check: {data} dashboard queries return data, {len(todo) - data} alert "
                  f"expressions parse, {count} rules evaluate, against the dev deployment")
        finally:
            for p in reversed(procs):
                p.send_signal(signal.SIGTERM)
            for p in reversed(procs):
                try:
                    p.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    p.kill()


if __name__ == "__main__":
    main()
