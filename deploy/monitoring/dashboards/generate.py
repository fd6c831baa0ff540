"""Breakout's Grafana dashboards as code (PyPI grafana-foundation-sdk, Grafana's own builders).

    python deploy/monitoring/dashboards/generate.py           # writes the JSON files
    python deploy/monitoring/dashboards/generate.py --check   # fails if they differ (CI)

Writes fleet.json, tenant.json, control-plane.json and templates.json here and the same bytes
into helm/breakout/files/dashboards/ (the chart's dashboards ConfigMap). Every panel query is
evaluated against a real Prometheus scraping the dev deployment by .ci/k8s/monitoring_check.py:
each must parse and return data. Metric names: docs/kubernetes.md ("Monitoring").
"""

import json
import pathlib
import sys

from grafana_foundation_sdk.builders import dashboard, prometheus, stat, table, timeseries
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models.dashboard import (
    DashboardCursorSync,
    DataSourceRef,
    VariableRefresh,
    VariableSort,
)

HERE = pathlib.Path(__file__).resolve().parent
CHART = HERE.parents[2] / "helm" / "breakout" / "files" / "dashboards"
DS = DataSourceRef(type_val="prometheus", uid="${datasource}")
RATE = "$__rate_interval"
# Control-plane series only (they carry no job label of ours: any scrape config works).
CONTROL = "and on(instance) breakout_control_raft_term"


def q(expr, legend="", ref="A"):
    return prometheus.Dataquery().expr(expr).legend_format(legend).ref_id(ref).datasource(DS)


def series(title, unit, *targets, w=12, h=8, desc=""):
    p = timeseries.Panel().title(title).unit(unit).datasource(DS).span(w).height(h)
    if desc:
        p = p.description(desc)
    for i, (expr, legend) in enumerate(targets):
        p = p.with_target(q(expr, legend, chr(ord("A") + i)))
    return p


def single(title, unit, expr, legend="", w=6, h=4, desc=""):
    p = stat.Panel().title(title).unit(unit).datasource(DS).span(w).height(h)
    if desc:
        p = p.description(desc)
    return p.with_target(q(expr, legend))


def board(uid, title, description):
    source = dashboard.DatasourceVariable("datasource").label("Prometheus").type("prometheus")
    return (
        dashboard.Dashboard(title)
        .uid(uid)
        .description(description)
        .tags(["breakout"])
        .editable()
        .tooltip(DashboardCursorSync.CROSSHAIR)
        .refresh("30s")
        .time("now-6h", "now")
        .timezone("browser")
        .with_variable(source)
    )


def fleet():
    return (
        board("breakout-fleet", "Breakout / Fleet", "Regions, edges, sessions against limits, refusals, throughput")
        .with_row(dashboard.Row("Regions and edges"))
        .with_panel(single("Edges connected", "none", "sum(breakout_control_edges_connected)"))
        .with_panel(single("Regions", "none", "count(count by (region) (breakout_control_edges_connected))"))
        .with_panel(single("Sessions on edges", "none", "sum(breakout_edge_sessions_active)"))
        .with_panel(single("Edges without the control plane", "none",
                           "count((time() - breakout_edge_sync_last_contact_timestamp_seconds > 60)"
                           " and breakout_edge_sync_last_contact_timestamp_seconds > 0) or vector(0)"))
        .with_panel(series("Edges connected per region", "none",
                           ("sum by (region) (breakout_control_edges_connected)", "{{region}}")))
        .with_panel(series("Sessions against limits per region", "none",
                           ("sum by (region) (breakout_control_region_sessions)", "{{region}} sessions"),
                           ("sum by (region) (breakout_control_region_limit)", "{{region}} limit"),
                           desc="The leader's view, from the edges' reports (sessions) and the tenants' limits."))
        .with_row(dashboard.Row("Traffic"))
        .with_panel(series("Requests by status class", "reqps",
                           (f"sum by (class) (rate(breakout_edge_requests_total[{RATE}]))", "{{class}}")))
        .with_panel(series("Refusals by reason", "reqps",
                           (f"sum by (reason) (rate(breakout_edge_refusals_total[{RATE}]))", "{{reason}}")))
        .with_panel(series("Throughput", "Bps",
                           (f"sum by (direction) (rate(breakout_edge_bytes_total[{RATE}]))", "{{direction}}")))
        .with_panel(series("Request duration (p95)", "s",
                           ("histogram_quantile(0.95, sum by (le, kind) "
                            f"(rate(breakout_edge_request_duration_seconds_bucket[{RATE}])))", "{{kind}}")))
        .with_panel(series("Upstream connect time (p95)", "s",
                           ("histogram_quantile(0.95, sum by (le, kind) "
                            f"(rate(breakout_edge_connect_duration_seconds_bucket[{RATE}])))", "{{kind}}")))
        .with_panel(series("Sessions refused at admission", "reqps",
                           (f"sum by (reason) (rate(breakout_edge_sessions_refused_total[{RATE}]))", "{{reason}}")))
        .with_panel(table.Panel().title("Builds running").datasource(DS).span(24).height(6)
                    .with_target(q("count by (version, commit) (breakout_build_info)").instant()))
    )


def tenant():
    var = (
        dashboard.QueryVariable("tenant")
        .label("Tenant")
        .datasource(DS)
        .query("label_values(breakout_edge_sessions_active, tenant)")
        .refresh(VariableRefresh.ON_TIME_RANGE_CHANGED)
        .sort(VariableSort.ALPHABETICAL_ASC)
    )
    t = 'tenant="$tenant"'
    return (
        board("breakout-tenant", "Breakout / Tenant", "One tenant: sessions against its limit, requests, refusals, bytes")
        .with_variable(var)
        .with_panel(single("Sessions now", "none", f"sum(breakout_edge_sessions_active{{{t}}})"))
        .with_panel(single("Session limit (all regions)", "none",
                           f"sum(max by (region) (breakout_control_region_limit{{{t}}}))"))
        .with_panel(single("Edges granting it sessions", "none", f"count(breakout_edge_session_limit{{{t}}} > 0)"))
        .with_panel(single("Refused (last hour)", "none",
                           f"sum(increase(breakout_edge_refusals_total{{{t}}}[1h])) or vector(0)"))
        .with_panel(series("Sessions against its limit", "none",
                           (f"max by (region) (breakout_control_region_sessions{{{t}}})", "{{region}} sessions"),
                           (f"max by (region) (breakout_control_region_limit{{{t}}})", "{{region}} limit"),
                           (f"sum(breakout_edge_sessions_active{{{t}}})", "on edges")))
        .with_panel(series("Requests by action", "reqps",
                           (f"sum by (action) (rate(breakout_edge_requests_total{{{t}}}[{RATE}]))", "{{action}}")))
        .with_panel(series("Requests by result", "reqps",
                           (f"sum by (result, class) (rate(breakout_edge_requests_total{{{t}}}[{RATE}]))",
                            "{{result}} {{class}}")))
        .with_panel(series("Refusals by reason", "reqps",
                           (f"sum by (reason) (rate(breakout_edge_refusals_total{{{t}}}[{RATE}]))", "{{reason}}")))
        .with_panel(series("Bytes", "Bps",
                           (f"sum by (direction) (rate(breakout_edge_bytes_total{{{t}}}[{RATE}]))", "{{direction}}")))
        .with_panel(series("Sessions admitted and refused", "reqps",
                           (f"sum(rate(breakout_edge_sessions_admitted_total{{{t}}}[{RATE}]))", "admitted"),
                           (f"sum by (reason) (rate(breakout_edge_sessions_refused_total{{{t}}}[{RATE}]))",
                            "refused: {{reason}}")))
    )


def control_plane():
    return (
        board("breakout-control-plane", "Breakout / Control plane",
              "Raft health, commit and apply lag, API latency and errors, edge connections")
        .with_row(dashboard.Row("Raft"))
        .with_panel(single("Leader", "none", "max(breakout_control_raft_leader)", w=4))
        .with_panel(single("Term", "none", "max(breakout_control_raft_term)", w=4))
        .with_panel(single("Voters scraped", "none", "count(breakout_control_raft_term)", w=4))
        .with_panel(single("Leader changes (1h)", "none",
                           "max(increase(breakout_control_raft_leader_changes_total[1h]))", w=4))
        .with_panel(single("Certificate expires in", "s",
                           "min(breakout_control_tls_cert_expiry_timestamp_seconds) - time()", w=8))
        .with_panel(series("Commit and apply lag per node", "none",
                           ("breakout_control_raft_commit_index - breakout_control_raft_applied_index",
                            "{{instance}} commit-apply"),
                           ("scalar(max(breakout_control_raft_last_log_index)) - breakout_control_raft_applied_index",
                            "{{instance}} behind leader's log")))
        .with_panel(series("Apply time (p99)", "s",
                           ("histogram_quantile(0.99, sum by (le) "
                            f"(rate(breakout_control_apply_duration_seconds_bucket[{RATE}])))", "p99")))
        .with_row(dashboard.Row("API"))
        .with_panel(series("Requests by status", "reqps",
                           (f"sum by (status) (rate(breakout_control_api_requests_total[{RATE}]))", "{{status}}")))
        .with_panel(series("Server errors (share)", "percentunit",
                           (f'(sum(rate(breakout_control_api_requests_total{{status=~"5.."}}[{RATE}])) or vector(0))'
                            f" / sum(rate(breakout_control_api_requests_total[{RATE}]))", "5xx")))
        .with_panel(series("Latency (p95) by route", "s",
                           ("histogram_quantile(0.95, sum by (le, route) "
                            f"(rate(breakout_control_api_request_duration_seconds_bucket[{RATE}])))", "{{route}}")))
        .with_row(dashboard.Row("Edges and processes"))
        .with_panel(series("Edges per control-plane node", "none",
                           ("sum by (instance) (breakout_control_edges_connected)", "{{instance}}")))
        .with_panel(series("Edge configuration lag (versions)", "none",
                           ("max by (region, edge) (breakout_control_edge_version_lag)", "{{region}}/{{edge}}")))
        .with_panel(series("Region build time (p99)", "s",
                           ("histogram_quantile(0.99, sum by (le, instance) "
                            f"(rate(breakout_control_region_build_seconds_bucket[{RATE}])))",
                            "{{instance}}"),
                           desc="How long a node takes to build a region's policy for a new store "
                                "version (the served cache brought to it and the region made from "
                                "its parts). A rule change reaches the region's edges no sooner."))
        .with_panel(series("Lease rounds", "ops",
                           (f"sum(rate(breakout_control_grant_rounds_total[{RATE}]))", "rounds")))
        .with_panel(series("Lease round duration", "s",
                           ("histogram_quantile(0.95, sum by (le) "
                            f"(rate(breakout_control_grant_round_seconds_bucket[{RATE}])))", "p95"),
                           desc="How long the leader's allocation rounds take. Rounds are paced "
                                "to about a quarter of a core: a round of d seconds is followed by "
                                "the next about 4d later (at most 2.5 s), so a rising duration "
                                "means fewer rounds, not more CPU."))
        .with_panel(series("Memory (RSS)", "bytes",
                           (f"process_resident_memory_bytes {CONTROL}", "{{instance}}")))
        .with_panel(series("CPU", "percentunit",
                           (f"rate(process_cpu_seconds_total[{RATE}]) {CONTROL}", "{{instance}}")))
        .with_panel(series("Open file descriptors", "none",
                           (f"process_open_fds {CONTROL}", "{{instance}}")))
    )


def templates():
    return (
        board("breakout-templates", "Breakout / Templates",
              "List templates: live versions, quarantines, time since the last successful poll")
        .with_panel(series("Live version", "none",
                           ("max by (item) (breakout_template_live_version)", "{{item}}")))
        .with_panel(series("Candidates in quarantine", "none",
                           ("max by (item) (breakout_template_quarantined)", "{{item}}")))
        .with_panel(series("Quarantines (per hour)", "none",
                           ("sum by (item) (increase(breakout_template_quarantines_total[1h]))"
                            " or (max by (item) (breakout_template_live_version) * 0)", "{{item}}")))
        .with_panel(series("Since the last successful poll", "s",
                           ("time() - max by (source) (breakout_template_last_success_timestamp_seconds)",
                            "{{source}}")))
    )


DASHBOARDS = {
    "fleet.json": fleet,
    "tenant.json": tenant,
    "control-plane.json": control_plane,
    "templates.json": templates,
}


def render(build):
    return json.dumps(build().build(), cls=JSONEncoder, indent=2, sort_keys=True) + "\n"


def main():
    check = "--check" in sys.argv[1:]
    stale = []
    for name, build in DASHBOARDS.items():
        text = render(build)
        for path in (HERE / name, CHART / name):
            if check:
                if not path.exists() or path.read_text() != text:
                    stale.append(str(path))
            else:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(text)
    if stale:
        print("dashboards differ from generate.py (run it and commit):", *stale, sep="\n  ", file=sys.stderr)
        sys.exit(1)
    print(f"dashboards: {len(DASHBOARDS)} {'match generate.py' if check else 'written'}")


if __name__ == "__main__":
    main()
