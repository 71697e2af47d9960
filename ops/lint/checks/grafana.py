"""The Grafana dashboard: structure, queries (promtool, catalogue), the foundation SDK, and
its provisioning in compose."""

from __future__ import annotations

import re
import tempfile
from pathlib import Path
from typing import Any, Iterator

import yaml

from support.catalogue import METRICS, METRIC_TOKEN, query_problems, series_to_metric
from support.common import (
    CheckFailed, DASHBOARD, GRAFANA_PROVISIONING, GROUP_LAG_SUMMED, load_yaml, require, run, tool,
)
from support.files import binds_of, compose_json, dashboard, env_of


GRAFANA_VARIABLES = {
    "$__rate_interval": "5m", "${__rate_interval}": "5m", "$__interval": "1m", "${__interval}": "1m",
    "$__range": "6h", "${__range}": "6h",
}


def panels(dash: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for panel in dash.get("panels", []):
        yield panel
        yield from panel.get("panels", [])


def dashboard_queries(dash: dict[str, Any]) -> list[tuple[str, str]]:
    queries = []
    for panel in panels(dash):
        for target in panel.get("targets", []):
            queries.append((f"panel {panel['id']} {panel.get('title')!r} query {target.get('refId')}", target["expr"]))
    return queries


def substitute_variables(expr: str, dash: dict[str, Any]) -> str:
    for name, value in GRAFANA_VARIABLES.items():
        expr = expr.replace(name, value)
    for var in dash.get("templating", {}).get("list", []):
        value = var.get("allValue") or ".*"
        expr = expr.replace("${" + var["name"] + "}", value).replace("$" + var["name"], value)
    require("$" not in expr.replace("$$", ""), f"unresolved variable in {expr}")
    return expr


def test_dashboard_structure() -> None:
    """Dashboard structure and panels."""
    dash = dashboard()
    require(dash.get("uid") and dash.get("title"), "dashboard needs uid and title")
    variables = {v["name"]: v for v in dash.get("templating", {}).get("list", [])}
    require(variables.get("datasource", {}).get("type") == "datasource" and
            variables["datasource"].get("query") == "prometheus", "no Prometheus datasource variable")
    ids = [p["id"] for p in panels(dash)]
    require(len(ids) == len(set(ids)), "duplicate panel ids")
    occupied: dict[tuple[int, int], int] = {}
    for panel in panels(dash):
        pos = panel.get("gridPos", {})
        require({"x", "y", "w", "h"} <= pos.keys(), f"panel {panel['id']} without gridPos")
        require(0 <= pos["x"] and pos["x"] + pos["w"] <= 24, f"panel {panel['id']} wider than the grid")
        for x in range(pos["x"], pos["x"] + pos["w"]):
            for y in range(pos["y"], pos["y"] + pos["h"]):
                require((x, y) not in occupied, f"panels {occupied.get((x, y))} and {panel['id']} overlap")
                occupied[(x, y)] = panel["id"]
        if panel["type"] == "row":
            continue
        require(panel.get("title") and panel.get("description"), f"panel {panel['id']} needs a title and a description")
        require(panel.get("datasource", {}).get("uid") == "${datasource}", f"panel {panel['id']} does not use the datasource variable")
        require(panel.get("targets"), f"panel {panel['id']} has no query")
        for target in panel["targets"]:
            require(target.get("datasource", {}).get("uid") == "${datasource}", f"panel {panel['id']}: query without the datasource variable")
            require(target.get("expr"), f"panel {panel['id']}: empty query")
    text = " ".join(f"{p.get('title')} {p.get('description', '')}" for p in panels(dash)).lower()
    for topic in ("request rate", "latency", "4xx", "5xx", "accepted", "kafka delivery", "kafka errors",
                  "rows", "batch size", "lag per partition", "dead-letter", "owned partitions", "stalled partitions",
                  "self-heals", "canary", "end-to-end", "cpu", "memory", "in flight", "replicas"):
        require(topic in text, f"no panel about {topic!r}")
    summed = [where for where, expr in dashboard_queries(dash) if GROUP_LAG_SUMMED.search(expr)]
    require(not summed, f"{summed}: sum over instances of leadpipe_consumer_group_lag; take max by (topic, partition) first")


def test_dashboard_queries_promtool() -> None:
    """Every panel query parses (promtool)."""
    dash = dashboard()
    rules = [{"record": f"dashboard:panel_{i}", "expr": substitute_variables(expr, dash)}
             for i, (_, expr) in enumerate(dashboard_queries(dash))]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "dashboard-queries.yml"
        path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}, sort_keys=False))
        proc = run([tool("promtool"), "check", "rules", str(path)], ok=False)
        if proc.returncode != 0:
            listing = "\n".join(f"dashboard:panel_{i} = {where}" for i, (where, _) in enumerate(dashboard_queries(dash)))
            raise CheckFailed(f"{proc.stdout}{proc.stderr}\n{listing}")


def test_dashboard_catalogue() -> None:
    """Queries use catalogued metrics and labels, all metrics shown."""
    dash = dashboard()
    problems = []
    used: set[str] = set()
    for where, expr in dashboard_queries(dash):
        problems += query_problems(expr, where)
        used |= {series_to_metric(t)[0] for t in METRIC_TOKEN.findall(expr)}
    for var in dash.get("templating", {}).get("list", []):
        query = var.get("query")
        query = query.get("query") if isinstance(query, dict) else query
        if var.get("type") == "query":
            problems += query_problems(re.sub(r"label_values\(([^,]+),", r"\1 by (", query) + ")"
                                                      if query.startswith("label_values(") else query, f"variable {var['name']}")
    missing = set(METRICS) - used
    problems += [f"no panel shows {m}" for m in sorted(missing)]
    require(not problems, "\n".join(problems))


def test_dashboard_foundation_sdk() -> None:
    """Dashboard decodes with the Grafana foundation SDK."""
    from grafana_foundation_sdk.cog import plugins, runtime
    from grafana_foundation_sdk.models import dashboard as dashboard_model
    from grafana_foundation_sdk.models import prometheus as prometheus_model

    plugins.register_default_plugins()
    raw = dashboard()
    decoded = dashboard_model.Dashboard.from_json(raw)
    require(decoded.uid == raw["uid"] and decoded.title == raw["title"], "dashboard metadata lost in decoding")
    flat = []
    for item in decoded.panels or []:
        flat.append(item)
        flat.extend(getattr(item, "panels", None) or [])
    require(len(flat) == len(list(panels(raw))), "panels lost in decoding")
    raw_by_id = {p["id"]: p for p in panels(raw)}
    for panel in flat:
        if isinstance(panel, dashboard_model.RowPanel):
            continue
        pid, ptype = panel.id_val, panel.type_val
        config = runtime.panelcfg_config(ptype)
        require(config is not None, f"panel {pid}: unknown panel type {ptype!r}")
        # The panel plugin's own models must accept the options and field config.
        if config.options_from_json_hook and raw_by_id[pid].get("options") is not None:
            config.options_from_json_hook(raw_by_id[pid]["options"])
        defaults = raw_by_id[pid].get("fieldConfig", {}).get("defaults", {}).get("custom")
        if config.field_config_from_json_hook and defaults is not None:
            config.field_config_from_json_hook(defaults)
        for target in panel.targets or []:
            require(isinstance(target, prometheus_model.Dataquery),
                    f"panel {pid}: query is not a Prometheus query ({type(target).__name__})")
            require(target.expr, f"panel {pid}: query lost its expression")
    encoded = decoded.to_json()
    require(len(encoded.get("panels", [])) == len(raw["panels"]), "re-encoding lost panels")


def test_grafana_provisioning() -> None:
    """Provisioning matches compose mounts."""
    cfg = compose_json()
    binds = binds_of(cfg["services"]["grafana"])
    datasources = load_yaml(GRAFANA_PROVISIONING / "datasources" / "prometheus.yml")
    require(datasources.get("apiVersion") == 1, "datasource provisioning needs apiVersion 1")
    (ds,) = datasources["datasources"]
    require(ds["type"] == "prometheus" and ds.get("isDefault"), "Prometheus must be the default datasource")
    require(ds["url"] == "http://prometheus:9090" and "prometheus" in cfg["services"], f"datasource URL {ds['url']}")
    providers = load_yaml(GRAFANA_PROVISIONING / "dashboards" / "leadpipe.yml")
    require(providers.get("apiVersion") == 1, "dashboard provisioning needs apiVersion 1")
    (provider,) = providers["providers"]
    path = provider["options"]["path"]
    mounted = [target for target, source in binds.items() if source == DASHBOARD]
    require(mounted and Path(mounted[0]).parent == Path(path), f"dashboard mounted at {mounted}, provider reads {path}")
    home = env_of(cfg["services"]["grafana"]).get("GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH")
    require(home in mounted, "home dashboard path is not the mounted dashboard")
