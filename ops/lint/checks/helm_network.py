"""What the chart exposes: the Ingress routes, the NetworkPolicies, and the monitoring
objects (ServiceMonitor, PrometheusRule, ScaledObject, dashboard)."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import pytest
import yaml

from support.chart import (
    container_env, labels_match, merged_values, pod_spec, rendered_objects, scenario_values, scenarios,
    url_port,
)
from support.common import ALERTS, CHART_CI_VALUES, JOBS, load_yaml, require, run, tool
from support.files import dashboard


# Paths the public edge may route: the lead API, and the API docs on request.
PUBLIC_PATHS = ["/v1/leads"]
DOCS_PATHS = ["/api-docs/openapi.json", "/swagger-ui/", "/swagger-ui/index.html"]
PRIVATE_PATHS = ["/", "/metrics", "/metrics/", "/healthz", "/readyz", "/v1", "/v1/other", "/anything"]



def broker_ports(brokers: str) -> set[int]:
    return {int(address.rsplit(":", 1)[1]) for address in brokers.split(",")}


def ingress_routes(ingress: dict[str, Any], request: str) -> bool:
    """Whether an Ingress sends a request path to a backend (networking.k8s.io/v1 path matching)."""
    for rule in ingress["spec"].get("rules", []):
        for item in rule.get("http", {}).get("paths", []):
            path, path_type = item["path"], item["pathType"]
            if path_type == "Exact":
                matched = request == path
            elif path_type == "Prefix":
                wanted = [part for part in path.split("/") if part]
                matched = [part for part in request.split("/") if part][: len(wanted)] == wanted
            else:
                # ImplementationSpecific: up to the controller (often a regex); assume the widest reading.
                matched = any(c in path for c in "()[]*+?$^|\\") or request.startswith(path.rstrip("/"))
            if matched:
                return True
    return False


def test_chart_ingress_routes() -> None:
    """The Ingress routes the lead API (and the docs only on request), never /metrics, the probes or `/`."""
    cases = [(f.stem, scenario_values(f)) for f in scenarios()]
    for docs in (False, True):
        cases.append((f"exposeApiDocs={docs}", {"gateway": {"ingress": {
            "enabled": True, "exposeApiDocs": docs, "hosts": [{"host": "a.example.com"}, {"host": "b.example.com"}]}}}))
    problems = []
    for label, case in cases:
        values = merged_values(case)
        ingresses = [o for o in rendered_objects(case) if o["kind"] == "Ingress"]
        if not values["gateway"]["ingress"]["enabled"]:
            if ingresses:
                problems.append(f"[{label}] Ingress rendered although gateway.ingress.enabled is false")
            continue
        if len(ingresses) != 1:
            problems.append(f"[{label}] {len(ingresses)} Ingresses")
            continue
        (ingress,) = ingresses
        hosts = {rule.get("host") for rule in ingress["spec"]["rules"]}
        if hosts != {h["host"] for h in values["gateway"]["ingress"]["hosts"]}:
            problems.append(f"[{label}] Ingress hosts {sorted(hosts)}")
        docs = values["gateway"]["ingress"]["exposeApiDocs"]
        for path in PUBLIC_PATHS:
            if not ingress_routes(ingress, path):
                problems.append(f"[{label}] {path} is not routed")
        for path in DOCS_PATHS:
            if ingress_routes(ingress, path) != docs:
                problems.append(f"[{label}] {path} {'not ' if docs else ''}routed with exposeApiDocs={docs}")
        for path in PRIVATE_PATHS:
            if ingress_routes(ingress, path):
                problems.append(f"[{label}] {path} is routed publicly")
    require(not problems, "\n".join(problems))


@pytest.mark.parametrize("values_file", scenarios(), ids=lambda path: path.stem)
def test_chart_network_policy(values_file: Path) -> None:
    """Every pod is isolated: only the ingress controller and Prometheus in, only DNS, Kafka and PostgreSQL
    out, plus Redis and the CAPTCHA verifier for the gateways that use them."""
    values = merged_values(scenario_values(values_file))
    objects = rendered_objects(scenario_values(values_file))
    policies = [o for o in objects if o["kind"] == "NetworkPolicy"]
    np = values["networkPolicy"]
    if not np["enabled"]:
        require(not policies, "NetworkPolicies rendered although networkPolicy.enabled is false")
        return
    by_name = {(o["kind"], o["metadata"]["name"]): o for o in objects}
    workloads = [o for o in objects if o["kind"] in ("Deployment", "Job")]
    problems: list[str] = []
    pg_ports = {int(p) for p in np["postgresql"]["ports"]}
    expected_ingress = {"gateway": {"http"}, "consumer": {"http-metrics"}, "lag-exporter": {"http-metrics"}, "migrations": set()}
    kafka_ports = {int(p) for p in np["kafka"]["ports"]} or broker_ports(values["kafka"]["brokers"])
    for workload in workloads:
        labels = workload["spec"]["template"]["metadata"]["labels"]
        component = labels["app.kubernetes.io/component"]
        name = f"{workload['kind']}/{workload['metadata']['name']}"
        selecting = [p for p in policies if p["spec"]["podSelector"].get("matchLabels") and
                     labels_match(p["spec"]["podSelector"]["matchLabels"], labels)]
        if len(selecting) != 1:
            problems.append(f"{name}: selected by {len(selecting)} NetworkPolicies")
            continue
        policy = selecting[0]
        spec = policy["spec"]
        if set(spec.get("policyTypes", [])) != {"Ingress", "Egress"}:
            problems.append(f"{name}: policyTypes {spec.get('policyTypes')}, both Ingress and Egress expected")
        if "app.kubernetes.io/instance" not in spec["podSelector"]["matchLabels"]:
            problems.append(f"NetworkPolicy {policy['metadata']['name']} selects pods of other releases")
        container = pod_spec(workload)["containers"][0]
        port_names = {p["name"] for p in container.get("ports", [])}
        ingress_ports: set[Any] = set()
        for rule in spec.get("ingress") or []:
            if not rule.get("from") or not all(rule["from"]):
                problems.append(f"{name}: an ingress rule accepts every source")
            if not rule.get("ports"):
                problems.append(f"{name}: an ingress rule opens every port")
            ingress_ports |= {p["port"] for p in rule.get("ports", [])}
        if not ingress_ports <= expected_ingress[component] or not ingress_ports <= port_names | {None}:
            problems.append(f"{name}: accepts connections on {sorted(map(str, ingress_ports))}, expected {sorted(expected_ingress[component])}")
        rules_from = [rule.get("from") for rule in spec.get("ingress") or []]
        for source, wanted in (("ingressController", component == "gateway"), ("prometheus", component != "migrations")):
            peers = yaml.safe_load(render_peers(np[source])) if wanted else None
            if wanted and peers and peers not in rules_from:
                problems.append(f"{name}: networkPolicy.{source} is not let in")
        if component in ("consumer", "lag-exporter"):
            prometheus = yaml.safe_load(render_peers(np["prometheus"]))
            if any(peers != prometheus for peers in rules_from):
                problems.append(f"{name}: lets in sources other than networkPolicy.prometheus: {rules_from}")
        allowed: set[tuple[str, int]] = set()
        for rule in spec.get("egress") or []:
            if not rule.get("ports"):
                problems.append(f"{name}: an egress rule opens every port")
            allowed |= {(p.get("protocol", "TCP"), int(p["port"])) for p in rule.get("ports", [])}
        if not {("UDP", 53), ("TCP", 53)} <= allowed:
            problems.append(f"{name}: DNS (53/UDP and 53/TCP) not allowed")
        tcp = {port for protocol, port in allowed if protocol == "TCP"}
        if component in ("gateway", "consumer", "lag-exporter"):
            config = container_env(container, by_name)
            missing = broker_ports(config["LEADPIPE_KAFKA_BROKERS"]) - tcp
            if missing:
                problems.append(f"{name}: Kafka broker ports {sorted(missing)} not allowed")
        if component == "gateway":
            config = values["gateway"]["config"]
            redis = config["redis"]
            destinations: list[tuple[str, set[int], dict[str, Any]]] = []
            if redis["url"] or redis["existingSecret"]:
                ports = {int(p) for p in np["redis"]["ports"]} or {url_port(redis["url"], 6379) if redis["url"] else 6379}
                destinations.append(("Redis", ports, np["redis"]))
            if config["captcha"]["verifyUrl"]:
                url = config["captcha"]["verifyUrl"]
                ports = {int(p) for p in np["captcha"]["ports"]} or {url_port(url, 80 if url.startswith("http://") else 443)}
                destinations.append(("the CAPTCHA verifier", ports, np["captcha"]))
            for label, ports, peer in destinations:
                peers = yaml.safe_load(render_peers(peer)) if render_peers(peer) else None
                rules = [rule for rule in spec.get("egress") or [] if rule.get("to") == peers
                         and ports <= {int(p["port"]) for p in rule.get("ports", []) if p.get("protocol", "TCP") == "TCP"}]
                if not rules:
                    problems.append(f"{name}: {label} (TCP {sorted(ports)}, to {peers}) not allowed")
        needs_pg = component in ("consumer", "migrations")
        if needs_pg and not pg_ports <= tcp:
            problems.append(f"{name}: PostgreSQL ports {sorted(pg_ports - tcp)} not allowed")
        kafka_only = broker_ports(values["kafka"]["brokers"]) - pg_ports - {53}
        if component == "migrations" and kafka_only & tcp:
            problems.append(f"{name}: the migration Job may reach the Kafka ports {sorted(kafka_only & tcp)}")
        if component == "gateway" and (pg_ports - broker_ports(values["kafka"]["brokers"]) - {53}) & tcp:
            problems.append(f"{name}: the gateway may reach the PostgreSQL ports")
        if component == "lag-exporter":
            # DNS and the Kafka brokers, nothing else (no database, no extra egress).
            beyond = allowed - {("UDP", 53), ("TCP", 53)} - {("TCP", port) for port in kafka_ports}
            if beyond:
                problems.append(f"{name}: may reach {sorted(beyond)} besides DNS and Kafka")
            for rule in spec.get("egress") or []:
                ports = {(p.get("protocol", "TCP"), int(p["port"])) for p in rule.get("ports", [])}
                wanted_peers = render_peers(np["dns"] if ports <= {("UDP", 53), ("TCP", 53)} else np["kafka"])
                if (yaml.safe_load(wanted_peers) if wanted_peers else None) != rule.get("to"):
                    problems.append(f"{name}: egress on {sorted(ports)} goes to {rule.get('to')}, not the configured DNS/Kafka peers")
        if workload["kind"] == "Job":
            hooks = set(policy["metadata"]["annotations"].get("helm.sh/hook", "").split(","))
            job_hooks = set(workload["metadata"]["annotations"].get("helm.sh/hook", "").split(","))
            weight = int(policy["metadata"]["annotations"].get("helm.sh/hook-weight", "0"))
            job_weight = int(workload["metadata"]["annotations"].get("helm.sh/hook-weight", "0"))
            if hooks != job_hooks or weight >= job_weight:
                problems.append(f"{name}: its NetworkPolicy is not a hook created before the Job ({hooks}, weight {weight})")
    require(not problems, "\n".join(problems))


def render_peers(peer: dict[str, Any]) -> str:
    """The NetworkPolicyPeer list the chart should render for a source value (as YAML)."""
    peers: list[dict[str, Any]] = [{"ipBlock": {"cidr": cidr}} for cidr in peer.get("cidrs", [])]
    selector = {key: peer[key] for key in ("namespaceSelector", "podSelector") if peer.get(key)}
    if selector:
        peers.append(selector)
    return yaml.safe_dump(peers) if peers else ""


def test_chart_monitoring_objects() -> None:
    """ServiceMonitor, PrometheusRule, ScaledObject and dashboard ConfigMap (full-values)."""
    values_file = CHART_CI_VALUES / "full-values.yaml"
    values = merged_values(scenario_values(values_file))
    objects = rendered_objects(scenario_values(values_file))
    kinds: dict[str, list[dict[str, Any]]] = {}
    for obj in objects:
        kinds.setdefault(obj["kind"], []).append(obj)
    services = kinds["Service"]

    monitors = kinds.get("ServiceMonitor", [])
    expected_monitors = 2 + (1 if values["lagExporter"]["enabled"] else 0)
    require(len(monitors) == expected_monitors,
            f"{len(monitors)} ServiceMonitors, expected {expected_monitors} (gateway, consumer, lag exporter when enabled)")
    for monitor in monitors:
        selected = [s for s in services if labels_match(monitor["spec"]["selector"]["matchLabels"], s["metadata"]["labels"])]
        require(len(selected) == 1, f"ServiceMonitor {monitor['metadata']['name']} selects {len(selected)} Services")
        port_names = {p["name"] for p in selected[0]["spec"]["ports"]}
        for endpoint in monitor["spec"]["endpoints"]:
            require(endpoint["port"] in port_names, f"ServiceMonitor port {endpoint['port']} not on Service {selected[0]['metadata']['name']}")
            require(endpoint.get("path") == "/metrics", "ServiceMonitor path is not /metrics")
            jobs = [r.get("replacement") for r in endpoint.get("relabelings", []) if r.get("targetLabel") == "job"]
            component = selected[0]["metadata"]["labels"]["app.kubernetes.io/component"]
            require(jobs == [JOBS[component]], f"ServiceMonitor sets job {jobs}, rules expect {JOBS[component]}")
        for key, value in values["serviceMonitor"]["labels"].items():
            require(monitor["metadata"]["labels"].get(key) == value, f"ServiceMonitor lacks label {key}")

    (rule,) = kinds["PrometheusRule"]
    require(rule["spec"] == load_yaml(ALERTS), "PrometheusRule spec differs from files/prometheus/alerts.yml")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "prometheusrule.yml"
        path.write_text(yaml.safe_dump(rule["spec"]))
        run([tool("promtool"), "check", "rules", str(path)])

    (scaled,) = kinds["ScaledObject"]
    consumer = next(d for d in kinds["Deployment"] if d["metadata"]["labels"]["app.kubernetes.io/component"] == "consumer")
    config = next(c for c in kinds["ConfigMap"] if c["metadata"]["name"] == pod_spec(consumer)["containers"][0]["envFrom"][0]["configMapRef"]["name"])["data"]
    spec = scaled["spec"]
    require(spec["scaleTargetRef"]["name"] == consumer["metadata"]["name"], "ScaledObject does not target the consumer")
    require(0 <= spec["minReplicaCount"] <= spec["maxReplicaCount"] <= values["kafka"]["topicPartitions"],
            "ScaledObject replicas outside 0..partitions")
    (trigger,) = spec["triggers"]
    meta = trigger["metadata"]
    require(trigger["type"] == "kafka", "ScaledObject trigger is not kafka")
    require(all(isinstance(v, str) for v in meta.values()), "KEDA trigger metadata values must all be strings")
    require(meta["allowIdleConsumers"] == "false", "allowIdleConsumers must be \"false\"")
    require(meta["consumerGroup"] == config["LEADPIPE_GROUP_ID"] == "leadpipe-consumer", "consumer group mismatch")
    require(meta["topic"] == config["LEADPIPE_TOPIC"] == "leads", "topic mismatch")
    require(meta["bootstrapServers"] == config["LEADPIPE_KAFKA_BROKERS"], "KEDA and the consumer use different brokers")
    require(int(meta["lagThreshold"]) >= 1, "lagThreshold must be a positive integer")

    (dashboard_cm,) = [c for c in kinds["ConfigMap"] if c["metadata"]["name"].endswith("-dashboard")]
    require(json.loads(dashboard_cm["data"]["leadpipe.json"]) == dashboard(), "dashboard ConfigMap differs from the canonical JSON")
    for key, value in values["grafanaDashboard"]["labels"].items():
        require(dashboard_cm["metadata"]["labels"].get(key) == value, f"dashboard ConfigMap lacks label {key}")
