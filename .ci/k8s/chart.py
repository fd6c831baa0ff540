"""Helm's own engine (PyPI helm-python-sdk) on helm/breakout: lint, then render the defaults and
every values file in helm/breakout/ci/ (chart-testing's convention) into OUT/<case>/*.yaml for
the schema and policy checks that follow in .ci/k8s.sh; bad values must fail at render with the
schema's message. Also checks what the chart promises structurally (see check_* below).

usage: python chart.py OUT
"""

import pathlib
import sys

import helm_python
import yaml

ROOT = pathlib.Path(__file__).resolve().parents[2]
CHART = ROOT / "helm" / "breakout"
RELEASE, NAMESPACE = "breakout", "breakout"


def fail(msg):
    print(f"chart: {msg}", file=sys.stderr)
    sys.exit(1)


def lint():
    result = helm_python.lint(str(CHART), strict=True)
    problems = [m for m in result.get("messages", []) if m.get("severity", 0) >= 2]
    for m in result.get("messages", []):
        print(f"chart: lint [{m.get('severity')}] {m.get('path')}: {m.get('error')}")
    if result.get("errors") or problems:
        fail(f"helm lint: {result.get('errors')} {problems}")


def merged(values_file):
    """The chart's defaults overlaid with a values file, as `helm template -f` does."""
    def merge(base, over):
        for k, v in over.items():
            if isinstance(v, dict) and isinstance(base.get(k), dict):
                merge(base[k], v)
            else:
                base[k] = v
        return base

    base = yaml.safe_load((CHART / "values.yaml").read_text())
    if values_file:
        base = merge(base, yaml.safe_load(values_file.read_text()) or {})
    return base


def render(values):
    chart = helm_python.Chart.load(str(CHART))
    try:
        return chart.render(values, name=RELEASE, namespace=NAMESPACE)
    finally:
        chart.close()


def objects(rendered):
    out = []
    for path, text in sorted(rendered.items()):
        if path.endswith("NOTES.txt"):
            continue
        for doc in yaml.safe_load_all(text):
            if doc:
                out.append((path, doc))
    return out


def containers(objs):
    for _, o in objs:
        spec = o.get("spec", {}).get("template", {}).get("spec")
        if spec:
            for c in spec.get("containers", []):
                yield o, spec, c


def check_common(case, objs):
    for o, spec, c in containers(objs):
        where = f"{case}: {o['kind']}/{o['metadata']['name']}"
        sc = c.get("securityContext", {})
        if not (sc.get("readOnlyRootFilesystem") and sc.get("runAsNonRoot")
                and sc.get("capabilities", {}).get("drop") == ["ALL"]
                and not sc.get("allowPrivilegeEscalation", True)):
            fail(f"{where}: container security context is not locked down: {sc}")
        if spec.get("automountServiceAccountToken") is not False:
            fail(f"{where}: mounts a service-account token")
        res = c.get("resources", {})
        if not (res.get("requests") and res.get("limits")):
            fail(f"{where}: no resource requests and limits")
        for probe in ("readinessProbe", "livenessProbe"):
            if probe not in c:
                fail(f"{where}: no {probe}")


def check_control_plane(case, values, objs):
    sts = [o for _, o in objs if o["kind"] == "StatefulSet"]
    if not values["controlPlane"]["enabled"]:
        if sts:
            fail(f"{case}: a StatefulSet without the control plane")
        return
    (s,) = sts
    spec = s["spec"]
    replicas = values["controlPlane"]["replicas"]
    if spec["podManagementPolicy"] != "Parallel" or spec["replicas"] != replicas:
        fail(f"{case}: StatefulSet {spec['podManagementPolicy']} x{spec['replicas']}")
    if [v["metadata"]["name"] for v in spec["volumeClaimTemplates"]] != ["data"]:
        fail(f"{case}: the control plane's data is not a PersistentVolumeClaim")
    if any("emptyDir" in v for v in spec["template"]["spec"].get("volumes", [])):
        fail(f"{case}: the control plane uses emptyDir")
    args = spec["template"]["spec"]["containers"][0]["args"]
    peers = next(a for a in args if a.startswith("--bootstrap-peers="))
    if len(peers.split("=", 1)[1].split(",")) != replicas or "--node-id-from-hostname" not in args:
        fail(f"{case}: formation flags wrong: {peers}")
    headless = [o for _, o in objs if o["kind"] == "Service" and o["spec"].get("clusterIP") == "None"
                and o["metadata"]["name"] == spec["serviceName"]]
    if not headless or not headless[0]["spec"].get("publishNotReadyAddresses"):
        fail(f"{case}: no headless Service publishing not-ready peers")
    pdb = [o for _, o in objs if o["kind"] == "PodDisruptionBudget"
           and o["metadata"]["name"] == s["metadata"]["name"]]
    if not pdb or pdb[0]["spec"]["minAvailable"] != replicas // 2 + 1:
        fail(f"{case}: the control plane's PDB does not keep a quorum")
    env = {e["name"]: e.get("value") for e in spec["template"]["spec"]["containers"][0]["env"]}
    raft = values["controlPlane"]["raft"]
    if (env.get("BREAKOUT_RAFT_HEARTBEAT_MS"), env.get("BREAKOUT_RAFT_ELECTION_TIMEOUT_MS")) != (
            str(raft["heartbeatMs"]), str(raft["electionTimeoutMs"])):
        fail(f"{case}: the Raft timing does not reach the nodes: {env}")
    check_extra_env(case, "controlPlane", values["controlPlane"]["extraEnv"], env)
    udp = [o for _, o in objs if o["kind"] == "Service"
           and any(p.get("protocol") == "UDP" for p in o["spec"]["ports"])]
    if not udp:
        fail(f"{case}: no UDP Service for the QUIC endpoint")


def check_extra_env(case, what, extra, env):
    for e in extra:
        if env.get(e["name"]) != e.get("value"):
            fail(f"{case}: {what} extraEnv {e['name']} does not reach the container: {env}")


def check_edges(case, values, objs):
    deps = [o for _, o in objs if o["kind"] == "Deployment"]
    regions = values["edges"]["regions"] if values["edges"]["enabled"] else []
    if len(deps) != len(regions):
        fail(f"{case}: {len(deps)} edge Deployments for {len(regions)} regions")
    for r in regions:
        name = f"{RELEASE}-edge-{r['name']}"
        svc = next((o for _, o in objs if o["kind"] == "Service" and o["metadata"]["name"] == name), None)
        if not svc or svc["spec"].get("externalTrafficPolicy") != "Local":
            fail(f"{case}: the proxy Service of {r['name']} does not keep client addresses")
        if not any(o["kind"] == "Service" and o["metadata"]["name"] == name + "-pac" for _, o in objs):
            fail(f"{case}: no PAC Service for {r['name']}")
        dep = next(o for o in deps if o["metadata"]["name"] == name)
        pod = dep["spec"]["template"]["spec"]
        env = {e["name"]: e.get("value") for e in pod["containers"][0]["env"]}
        check_extra_env(case, f"edges ({r['name']})", values["edges"]["extraEnv"], env)
        drain = values["edges"]["drainGraceSeconds"]
        if pod["terminationGracePeriodSeconds"] < drain + values["edges"]["preStopSleepSeconds"]:
            fail(f"{case}: {name} is killed before its drain ends")
        if "podAntiAffinity" not in pod.get("affinity", {}) and not r.get("affinity"):
            fail(f"{case}: {name} has no anti-affinity")
        hpa = any(o["kind"] == "HorizontalPodAutoscaler" and o["metadata"]["name"] == name for _, o in objs)
        if hpa != r["autoscaling"]["enabled"]:
            fail(f"{case}: {name} autoscaler present={hpa}")


BAD = {
    "an even number of voters": ({"controlPlane": {"replicas": 2}}, "replicas"),
    "edges without a control-plane address": (
        {"controlPlane": {"enabled": False}, "edgeToken": {"value": "t"},
         "edges": {"controlPlane": {"caSecret": "ca"}}}, "address"),
    "a misspelt value": ({"controlplane": {"replicas": 3}}, "controlplane"),
    "a region name that is no DNS label": (
        {"edges": {"regions": [{"name": "Tokyo_1"}]}}, "name"),
    "an election timeout within two heartbeats": (
        {"controlPlane": {"raft": {"heartbeatMs": 400}}}, "electionTimeoutMs"),
    "an extraEnv that overrides a chart value": (
        {"controlPlane": {"extraEnv": [{"name": "BREAKOUT_RAFT_ELECTION_TIMEOUT_MS", "value": "900"}]}},
        "controlPlane.extraEnv[0] sets BREAKOUT_RAFT_ELECTION_TIMEOUT_MS"),
    "an extraEnv that names a variable twice": (
        {"edges": {"extraEnv": [{"name": "RUST_LOG", "value": "info"}, {"name": "RUST_LOG", "value": "debug"}]}},
        "edges.extraEnv[1] sets RUST_LOG"),
    "an extraEnv entry without a name": (
        {"edges": {"extraEnv": [{"value": "x"}]}}, "name"),
}


def check_schema_refusals():
    for what, (override, needle) in BAD.items():
        values = merged(None)
        def merge(base, over):
            for k, v in over.items():
                if isinstance(v, dict) and isinstance(base.get(k), dict):
                    merge(base[k], v)
                else:
                    base[k] = v
        merge(values, override)
        try:
            render(values)
        except helm_python.HelmError as e:
            if needle not in str(e):
                fail(f"{what}: refused, but the message does not name {needle!r}: {e}")
            print(f"chart: refused {what}: {str(e).splitlines()[0][:160]}")
            continue
        fail(f"{what}: rendered without complaint")


def leaf_paths(values, prefix=""):
    """`a.b.c` for every value; list entries as `a[]` (their keys documented as `a[].key`)."""
    for k, v in values.items():
        path = f"{prefix}{k}"
        if isinstance(v, dict) and v and path not in OPAQUE:
            yield from leaf_paths(v, path + ".")
        elif isinstance(v, list) and v and isinstance(v[0], dict):
            yield path
            for item in v:
                yield from leaf_paths(item, path + "[].")
        else:
            yield path


# Values documented as a whole (Kubernetes objects passed through, label maps).
OPAQUE = {"podSecurityContext", "containerSecurityContext", "controlPlane.resources",
          "edges.resources", "monitoring.dashboards.labels"}


def check_readme():
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    readme = (CHART / "README.md").read_text()
    missing = sorted({p for p in leaf_paths(values) if f"`{p}`" not in readme})
    if missing:
        fail(f"README.md does not describe: {', '.join(missing)}")


def check_image_defaults():
    """The defaults name the image the docs tell users to build: breakout:<appVersion>, and
    appVersion is the workspace's version."""
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    cargo = (ROOT / "Cargo.toml").read_text()
    version = cargo.split('[workspace.package]', 1)[1].split('version = "', 1)[1].split('"', 1)[0]
    if chart["appVersion"] != version:
        fail(f"Chart.yaml appVersion {chart['appVersion']} is not the workspace version {version}")
    image = f"{values['image']['repository']}:{values['image']['tag'] or chart['appVersion']}"
    for doc in ("docs/kubernetes.md", "deploy/image/README.md"):
        if f"-t {image}" not in (ROOT / doc).read_text():
            fail(f"{doc} does not build the chart's default image {image}")


def check_runbooks():
    """Every alert's runbook_url names a section that exists in docs/kubernetes.md."""
    rules = yaml.safe_load((ROOT / "deploy/monitoring/rules/breakout.rules.yaml").read_text())
    for group in rules["groups"]:
        for rule in group["rules"]:
            url = rule["annotations"].get("runbook_url", "")
            doc, _, anchor = url.partition("#")
            path = ROOT / doc
            if not anchor or not path.exists() or f'<a id="{anchor}"></a>' not in path.read_text():
                fail(f"alert {rule['alert']}: runbook_url {url!r} names no section")


def main():
    out = pathlib.Path(sys.argv[1])
    lint()
    check_readme()
    check_image_defaults()
    check_runbooks()
    cases = [("defaults", None)] + [(p.stem, p) for p in sorted((CHART / "ci").glob("*.yaml"))]
    for case, path in cases:
        values = merged(path)
        rendered = render(values)
        notes = [t for p, t in rendered.items() if p.endswith("NOTES.txt")]
        if not notes or "breakoutctl" not in notes[0] and values["controlPlane"]["enabled"]:
            fail(f"{case}: NOTES.txt does not say what to do next")
        objs = objects(rendered)
        check_common(case, objs)
        check_control_plane(case, values, objs)
        check_edges(case, values, objs)
        d = out / case
        d.mkdir(parents=True, exist_ok=True)
        for n, (src, o) in enumerate(objs):
            (d / f"{n:02d}-{o['kind'].lower()}-{o['metadata']['name']}.yaml").write_text(
                yaml.safe_dump(o, sort_keys=False))
        kinds = sorted({o["kind"] for _, o in objs})
        print(f"chart: {case}: {len(objs)} objects ({', '.join(kinds)})")
    check_schema_refusals()


if __name__ == "__main__":
    main()
