#!/usr/bin/env python3
"""The API against its own OpenAPI document, with schemathesis (docs/reliability.md).

Starts a throwaway `breakout-control` (one node, no edges, no vendor polling) on 127.0.0.1,
seeds two tenants, then runs schemathesis with every check on every operation:

1. as tenant `acme` (its own token): afterwards tenant `beta`'s data must be exactly as before
   (no case may change another tenant's data);
2. as the operator.

Operations that make the server call out are excluded (joining nodes, webhook targets).
Exit status 0 only if both runs pass and beta is untouched. Figures go to $RELIABILITY_REPORT
(one JSON line) if set.

Usage: api_conformance.py BIN_DIR [--max-examples N] [--seed S]
"""

import argparse
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

ADMIN = "conformance-admin-token-0123456789"
EXCLUDE = r"^/v1/cluster/nodes|^/v1/tenants/\{id\}/webhooks$"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def call(base, method, path, token=ADMIN, body=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(base + path, data=data, method=method)
    req.add_header("Authorization", f"Bearer {token}")
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")


def must(base, method, path, body=None, token=ADMIN):
    status, answer = call(base, method, path, token, body)
    if status >= 300:
        sys.exit(f"seeding {method} {path}: {status} {answer}")
    return answer


def seed(base):
    must(base, "POST", "/v1/regions", {"name": "tokyo"})
    for tid, cidr in [("acme", "192.0.2.0/24"), ("beta", "198.51.100.0/24")]:
        must(base, "POST", "/v1/tenants", {
            "id": tid, "region": "tokyo", "source_cidrs": [cidr], "session_limit": 10,
            "default_action": "block",
            "rules": [{"action": "direct", "destinations": ["*.example.com"]}],
        })
        must(base, "PUT", f"/v1/tenants/{tid}/lists/blocklist", ["bad.example"])
        must(base, "PUT", f"/v1/tenants/{tid}/attributes", {"private_backbone": True})
    return must(base, "POST", "/v1/tokens", {"tenant": "acme"})["token"]


def beta_view(base):
    """Everything of tenant beta the operator can read (versions stripped: the store's version
    moves with anyone's writes)."""
    view = {}
    for path in ["", "/lists", "/attributes", "/contracts", "/options", "/templates",
                 "/webhooks"]:
        status, answer = call(base, "GET", f"/v1/tenants/beta{path}?stale=true")
        if isinstance(answer, dict):
            answer.pop("version", None)
        view[path or "/"] = (status, answer)
    return view


def schemathesis(base, token, seed_value, max_examples, label, cwd):
    config = os.path.join(os.path.dirname(os.path.abspath(__file__)), "schemathesis.toml")
    cmd = [
        "schemathesis", "--config-file", config, "run", f"{base}/openapi.json",
        "--url", base,
        "-H", f"Authorization: Bearer {token}",
        "--checks", "all",
        "--max-examples", str(max_examples),
        "--seed", str(seed_value),
        "--workers", "2",
        "--exclude-path-regex", EXCLUDE,
        "--request-timeout", "20",
        "--continue-on-failure",
        "--no-color",
    ]
    print(f"== schemathesis as {label}", flush=True)
    started = time.monotonic()
    # In the scratch dir: schemathesis and hypothesis leave their databases in the cwd.
    run = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                         cwd=cwd)
    print(run.stdout, flush=True)
    found = re.search(r"(\d+) generated", run.stdout)
    cases = int(found.group(1)) if found else 0
    rc = run.returncode
    # schemathesis also exits non-zero on its own runtime errors while generating a case (e.g.
    # hypothesis' "AST constructor recursion depth mismatch"): with no FAILURES section the
    # server answered nothing wrong; said loudly, not counted as the API failing.
    errors = run.stdout.split("== ERRORS ==", 1)[1] if "== ERRORS ==" in run.stdout else ""
    tool_only = "Runtime Error" in errors and not any(
        w in errors for w in ("Network Error", "Timeout", "timed out", "Connection"))
    if rc != 0 and "== FAILURES ==" not in run.stdout and tool_only:
        print(f"api_conformance: schemathesis runtime errors as {label} (no API failure); "
              "see ERRORS above", file=sys.stderr, flush=True)
        rc = 0
    return rc, time.monotonic() - started, cases


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("bin_dir")
    ap.add_argument("--max-examples", type=int, default=int(os.environ.get("API_EXAMPLES", 25)))
    ap.add_argument("--seed", type=int, default=int(os.environ.get("API_SEED", 16)))
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix="breakout-conformance-")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = dict(os.environ, BREAKOUT_ADMIN_TOKEN=ADMIN, BREAKOUT_LOG="warn",
               # schemathesis sends thousands of requests from one address.
               BREAKOUT_API_RATE_PER_SOURCE="0", BREAKOUT_API_RATE_PER_TOKEN="0",
               BREAKOUT_API_AUTH_FAILURE_RATE="0")
    log = open(os.path.join(work, "control.log"), "w")
    node = subprocess.Popen(
        [os.path.join(args.bin_dir, "breakout-control"), "--node-id", "1",
         "--data-dir", os.path.join(work, "data"), "--api-listen", f"127.0.0.1:{port}",
         "--raft-listen", f"127.0.0.1:{free_port()}", "--edge-listen", "off",
         "--metrics-listen", "off"],
        env=env, stdout=log, stderr=log)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if call(base, "GET", "/readyz")[0] == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline or node.poll() is not None:
                sys.exit("the control plane did not become ready")
            time.sleep(0.2)
        token = seed(base)
        before = beta_view(base)
        rc_tenant, t_tenant, n_tenant = schemathesis(
            base, token, args.seed, args.max_examples, "tenant", work)
        after = beta_view(base)
        untouched = before == after
        if not untouched:
            print("tenant beta changed during the tenant run:", file=sys.stderr)
            for k in before:
                if before[k] != after[k]:
                    print(f"  {k}: {before[k]} -> {after[k]}", file=sys.stderr)
        rc_op, t_op, n_op = schemathesis(
            base, ADMIN, args.seed, args.max_examples, "operator", work)
        if node.poll() is not None:
            print("the control plane died during the run", file=sys.stderr)
            rc_op = 1
        figures = {"test": "api-conformance", "figures": {
            "max_examples_per_operation": args.max_examples, "seed": args.seed,
            "cases_as_tenant": n_tenant, "cases_as_operator": n_op,
            "seconds": round(t_tenant + t_op, 1), "tenant_run_passed": rc_tenant == 0,
            "operator_run_passed": rc_op == 0, "other_tenant_untouched": untouched}}
        print("reliability-figures", json.dumps(figures))
        if os.environ.get("RELIABILITY_REPORT"):
            with open(os.environ["RELIABILITY_REPORT"], "a") as f:
                f.write(json.dumps(figures) + "\n")
        return 0 if (rc_tenant == 0 and rc_op == 0 and untouched) else 1
    finally:
        node.terminate()
        try:
            node.wait(timeout=10)
        except subprocess.TimeoutExpired:
            node.kill()
        log.close()
        if os.environ.get("KEEP_CONFORMANCE_DIR"):
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
