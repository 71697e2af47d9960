"""docker-compose.yml (validated by the Compose v2 binary) and the nginx load balancer."""

from __future__ import annotations

import copy
import re
import tempfile
from pathlib import Path

import yaml

from support.catalogue import ENV_CONTRACT
from support.common import (
    ALERTS, COMPOSE_FILE, DASHBOARD, DOCKERFILE, FLUSH_MARGIN_SECS, GATEWAY_DEFAULT_DRAIN_SECS,
    GATEWAY_DEFAULT_SHUTDOWN_TIMEOUT_SECS, GRAFANA_PROVISIONING, PLAIN_SECRET_VARIABLES, PROM_CONFIG, ROOT,
    load_yaml, require, run,
)
from support.files import binds_of, compose_binary, compose_json, dockerfile_stages, env_of


NGINX_CONF = ROOT / "ops" / "nginx" / "leadpipe.conf"
COMPOSE_SERVICES = {"kafka", "kafka-init", "postgres", "migrate", "gateway", "consumer", "lag-exporter",
                    "nginx", "prometheus", "grafana"}
TOPIC_PARTITIONS = 12


def test_compose_config() -> None:
    """Docker compose config -q (Compose v2 binary)."""
    proc = run([compose_binary(), "-f", str(COMPOSE_FILE), "config", "-q"])
    require(not proc.stderr.strip(), f"docker compose config printed warnings:\n{proc.stderr}")


def test_compose_rejects_broken_file() -> None:
    """The binary really validates: a broken copy of the file must fail."""
    data = load_yaml(COMPOSE_FILE)
    mutations = {
        "string replica count": lambda d: d["services"]["gateway"]["deploy"].__setitem__("replicas", "two"),
        "unknown dependency": lambda d: d["services"]["consumer"]["depends_on"].__setitem__(
            "kafka-topics", {"condition": "service_completed_successfully"}),
        "unknown service key": lambda d: d["services"]["nginx"].__setitem__("portz", ["8080:8080"]),
    }
    with tempfile.TemporaryDirectory() as tmp:
        for label, mutate in mutations.items():
            broken = copy.deepcopy(data)
            mutate(broken)
            path = Path(tmp) / "docker-compose.yml"
            path.write_text(yaml.safe_dump(broken, sort_keys=False))
            proc = run([compose_binary(), "-f", str(path), "config", "-q"], ok=False)
            require(proc.returncode != 0, f"docker compose accepted a file with a {label}")


def test_compose_topology() -> None:
    """Services, replicas, volumes, health-based depends_on."""
    cfg = compose_json()
    services = cfg["services"]
    require(set(services) == COMPOSE_SERVICES, f"services are {sorted(services)}, expected {sorted(COMPOSE_SERVICES)}")

    kafka = services["kafka"]
    require(kafka["image"].startswith("apache/kafka:"), f"kafka image {kafka['image']} is not the official one")
    roles = env_of(kafka).get("KAFKA_PROCESS_ROLES", "")
    require(set(roles.split(",")) == {"broker", "controller"}, "kafka is not a single KRaft broker+controller node")
    require(not any("zookeeper" in k.lower() for k in env_of(kafka)), "kafka configured with ZooKeeper")
    init = " ".join(services["kafka-init"].get("command") or [])
    require(re.search(rf"--topic leads --partitions {TOPIC_PARTITIONS}\b", init),
            f"kafka-init does not create topic `leads` with {TOPIC_PARTITIONS} partitions")
    require("--if-not-exists" in init, "kafka-init is not idempotent (--if-not-exists)")

    postgres = services["postgres"]
    require(re.match(r"postgres:16(\.|-|$)", postgres["image"]), f"postgres image {postgres['image']} is not PostgreSQL 16")
    volumes = {v["target"]: v for v in postgres.get("volumes", [])}
    require(volumes.get("/var/lib/postgresql/data", {}).get("type") == "volume", "postgres data is not on a named volume")

    migrate = services["migrate"]
    require(migrate.get("command") == ["migrate"], "migrate does not run `leadpipe-consumer migrate`")
    require(migrate.get("build", {}).get("target") == "consumer", "migrate is not built from the consumer target")
    require(migrate.get("restart", "no") == "no", "migrate must be one-shot")

    for name, target, replicas in (("gateway", "gateway", 2), ("consumer", "consumer", 2)):
        svc = services[name]
        require(svc.get("build", {}).get("target") == target, f"{name} is not built from the `{target}` target")
        require(Path(svc["build"]["context"]).resolve() == ROOT, f"{name} build context is not the repository root")
        dockerfile = Path(svc["build"]["context"]) / svc["build"]["dockerfile"]
        require(dockerfile.resolve() == DOCKERFILE, f"{name} is built from {dockerfile}")
        require((svc.get("deploy") or {}).get("replicas") == replicas, f"{name} is not scaled to {replicas}")
        require(not svc.get("ports"), f"{name} publishes host ports, which breaks scaling")
        require(svc.get("read_only") and "ALL" in (svc.get("cap_drop") or []), f"{name} is not hardened")
    require(services["consumer"]["depends_on"]["migrate"]["condition"] == "service_completed_successfully",
            "consumer does not wait for the migrations")
    require(env_of(services["consumer"])["LEADPIPE_DATABASE_URL"] == env_of(migrate)["LEADPIPE_DATABASE_URL"],
            "consumer and migrate use different database URLs")

    # Lag exporter: the consumer image in `lag-exporter` mode, one instance, no database,
    # and the consumers' Kafka connection, topic and group (it measures their lag).
    exporter, consumer = services["lag-exporter"], services["consumer"]
    require(exporter.get("build", {}).get("target") == "consumer", "lag-exporter is not built from the consumer target")
    require(exporter.get("image") == consumer.get("image"), "lag-exporter does not run the consumer image")
    require(exporter.get("command") == ["lag-exporter"], "lag-exporter does not run `leadpipe-consumer lag-exporter`")
    require((exporter.get("deploy") or {}).get("replicas", 1) == 1, "lag-exporter: run one instance")
    require(not exporter.get("ports"), "lag-exporter publishes host ports")
    require(exporter.get("read_only") and "ALL" in (exporter.get("cap_drop") or []), "lag-exporter is not hardened")
    exporter_env, consumer_env = env_of(exporter), env_of(consumer)
    database = sorted(k for k in exporter_env if k.startswith("LEADPIPE_DATABASE"))
    require(not database, f"lag-exporter needs no database, but gets {database}")
    require(not {"postgres", "migrate"} & set(exporter.get("depends_on") or {}), "lag-exporter waits for the database")

    def connection(env: dict[str, str]) -> dict[str, str]:
        return {k: v for k, v in env.items() if k.startswith("LEADPIPE_KAFKA_") and k != "LEADPIPE_KAFKA_SESSION_TIMEOUT_MS"
                or k in ("LEADPIPE_TOPIC", "LEADPIPE_GROUP_ID")}

    require(connection(exporter_env) == connection(consumer_env),
            f"lag-exporter and consumer differ in Kafka connection, topic or group: {connection(exporter_env)} vs {connection(consumer_env)}")

    nginx = services["nginx"]
    published = [p for p in nginx.get("ports", []) if str(p.get("published")) == "8080"]
    require(published and published[0]["target"] == 8080, "nginx does not publish localhost:8080")
    require(binds_of(nginx).get("/etc/nginx/conf.d/default.conf") == NGINX_CONF, "nginx does not load ops/nginx/leadpipe.conf")
    require(services["nginx"]["depends_on"].get("gateway"), "nginx does not depend on the gateway")

    prom = binds_of(services["prometheus"])
    require(prom.get("/etc/prometheus/prometheus.yml") == PROM_CONFIG, "prometheus does not load ops/prometheus/prometheus.yml")
    require(ALERTS in prom.values(), "prometheus does not mount the canonical alert rules")
    grafana = binds_of(services["grafana"])
    require(DASHBOARD in grafana.values(), "grafana does not mount the canonical dashboard")
    require(grafana.get("/etc/grafana/provisioning/datasources") == GRAFANA_PROVISIONING / "datasources",
            "grafana datasource provisioning not mounted")
    require(grafana.get("/etc/grafana/provisioning/dashboards") == GRAFANA_PROVISIONING / "dashboards",
            "grafana dashboard provisioning not mounted")

    for name, svc in services.items():
        image = svc.get("image", "")
        if "build" not in svc:
            tag = image.rsplit(":", 1)[-1] if ":" in image.split("/")[-1] else ""
            require(tag and tag != "latest", f"{name}: image {image} is not pinned")
        for target, source in binds_of(svc).items():
            require(source.exists(), f"{name}: bind mount source {source} does not exist")
            require(ROOT in source.parents, f"{name}: bind mount {source} outside the repository")
        for dep, spec in (svc.get("depends_on") or {}).items():
            condition = spec.get("condition")
            dep_svc = services[dep]
            if dep_svc.get("restart", "no") == "no" and dep in ("kafka-init", "migrate"):
                require(condition == "service_completed_successfully",
                        f"{name} -> {dep}: one-shot dependency must be service_completed_successfully")
            elif condition == "service_healthy":
                require(dep_svc.get("healthcheck") and not dep_svc["healthcheck"].get("disable"),
                        f"{name} waits for {dep} to be healthy, but {dep} has no healthcheck")
            if dep in ("kafka", "postgres", "prometheus"):
                require(condition == "service_healthy", f"{name} -> {dep} is not health-based")
    for name, component in (("gateway", "gateway"), ("consumer", "consumer"), ("lag-exporter", "consumer")):
        env = env_of(services[name])
        unknown = {k for k in env if k.startswith("LEADPIPE_") or k == "RUST_LOG"} - ENV_CONTRACT[component]
        require(not unknown, f"{name}: unknown environment variables {sorted(unknown)}")
    require(env_of(migrate).keys() <= ENV_CONTRACT["consumer"], "migrate: unknown environment variables")
    consent = {c: env_of(services[c]).get("LEADPIPE_REQUIRE_CONSENT") for c in ("gateway", "consumer")}
    require(consent["gateway"] == consent["consumer"], f"gateway and consumer disagree on consent: {consent}")
    for name in ("gateway", "consumer", "lag-exporter", "migrate"):
        plain = PLAIN_SECRET_VARIABLES & env_of(services[name]).keys()
        require(not plain, f"{name}: secret passed as a plain variable {sorted(plain)}: use the *_FILE variable and compose secrets")
    gateway_env = env_of(services["gateway"])
    drain = int(gateway_env.get("LEADPIPE_DRAIN_SECS", GATEWAY_DEFAULT_DRAIN_SECS))
    shutdown = int(gateway_env.get("LEADPIPE_SHUTDOWN_TIMEOUT_SECS", GATEWAY_DEFAULT_SHUTDOWN_TIMEOUT_SECS))
    grace = duration_seconds(services["gateway"].get("stop_grace_period", "10s"))
    require(grace >= drain + shutdown + FLUSH_MARGIN_SECS,
            f"gateway: stop_grace_period {grace:g}s does not cover the {drain}s drain + {shutdown}s shutdown timeout"
            f" + {FLUSH_MARGIN_SECS}s producer flush")


def duration_seconds(value: str | int | float) -> float:
    """A Compose / Go duration (`1m30s`, `40s`, `500ms`) in seconds."""
    if isinstance(value, (int, float)):
        return float(value) / 1e9  # compose config renders plain numbers as nanoseconds
    parts = re.findall(r"(\d+(?:\.\d+)?)(h|ms|m|s|us|ns)", value)
    require(parts and "".join(n + u for n, u in parts) == value, f"cannot parse duration {value!r}")
    scale = {"h": 3600, "m": 60, "s": 1, "ms": 1e-3, "us": 1e-6, "ns": 1e-9}
    return sum(float(n) * scale[u] for n, u in parts)


def test_compose_build_targets() -> None:
    """Build targets exist in the Dockerfile."""
    cfg = compose_json()
    stage_names = {stage["name"] for stage in dockerfile_stages()}
    for name, svc in cfg["services"].items():
        if "build" in svc:
            require(svc["build"].get("target") in stage_names, f"{name}: build target {svc['build'].get('target')} not in Dockerfile")


def test_nginx_config() -> None:
    """Nginx load balancer config."""
    text = NGINX_CONF.read_text()
    code = re.sub(r"#[^\n]*", "", text)
    require(code.count("{") == code.count("}"), "unbalanced braces")
    cfg = compose_json()
    gateway_port = env_of(cfg["services"]["gateway"])["LEADPIPE_HTTP_ADDR"].rsplit(":", 1)[1]
    upstreams = dict(re.findall(r"upstream\s+(\S+)\s*\{([^}]*)\}", code))
    require(upstreams, "no upstream block")
    passes = re.findall(r"proxy_pass\s+http://([^;/\s]+)", code)
    require(passes and all(p in upstreams for p in passes), f"proxy_pass targets {passes} are not upstreams")
    for name, body in upstreams.items():
        servers = re.findall(r"server\s+([^\s;]+)([^;]*);", body)
        require(servers, f"upstream {name} has no server")
        for address, params in servers:
            host, _, port = address.partition(":")
            require(host in cfg["services"], f"upstream server {address}: no compose service {host}")
            require(port == gateway_port, f"upstream server {address}: the gateway listens on {gateway_port}")
            require("resolve" in params.split(), f"upstream server {address} is resolved only once at start-up")
        require(re.search(r"\bzone\s+\S+\s+\S+;", body), f"upstream {name} needs a shared zone for `resolve`")
    require(re.search(r"resolver\s+127\.0\.0\.11\b", code), "resolver is not Docker's embedded DNS")
    listens = re.findall(r"listen\s+(\d+)", code)
    nginx_targets = {p["target"] for p in cfg["services"]["nginx"].get("ports", [])}
    require(listens and all(int(p) in nginx_targets for p in listens), f"nginx listens on {listens}, compose publishes {nginx_targets}")
    require(re.search(r"location\s*=\s*/metrics\s*\{[^}]*return\s+404", code), "gateway metrics exposed through the load balancer")
    health = cfg["services"]["nginx"]["healthcheck"]["test"]
    require(any("/nginx-health" in part for part in health) and "location = /nginx-health" in code,
            "nginx healthcheck path not served by the config")
