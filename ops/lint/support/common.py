"""Paths of the files the checks read, and the helpers every check uses: `require`, the
tools of the virtualenv, running a command, reading YAML."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any, Iterator

import yaml


ROOT = Path(__file__).resolve().parents[3]
CHART = ROOT / "helm" / "leadpipe"
CHART_CI_VALUES = CHART / "ci"
ALERTS = CHART / "files" / "prometheus" / "alerts.yml"
DASHBOARD = CHART / "files" / "grafana" / "leadpipe-dashboard.json"
COMPOSE_FILE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "ops" / "docker" / "Dockerfile"
PROM_CONFIG = ROOT / "ops" / "prometheus" / "prometheus.yml"
# Where every alert's `runbook_url` points: a section of docs/runbooks.md.
RUNBOOK_URL = "https://github.com/leadpipe/leadpipe/blob/main/docs/runbooks.md"
GRAFANA_PROVISIONING = ROOT / "ops" / "grafana" / "provisioning"
CATALOGUE = ROOT / "ops" / "lint" / "metrics.yml"
NEGATIVE_CASES = ROOT / "ops" / "lint" / "chart-negative"
CRD_SCHEMAS = ROOT / "ops" / "lint" / "crd-schemas"
WORKFLOW_NEGATIVE_CASES = ROOT / "ops" / "lint" / "workflow-negative"
# GitOps: the Argo CD Application (and its repository), the gateway's Rollout, its
# AnalysisTemplate and HPA; broken variants (merge patches) the checks must refuse.
ARGOCD_DIR = ROOT / "deploy" / "argocd"
ROLLOUTS_DIR = ROOT / "deploy" / "rollouts"
GITOPS_NEGATIVE_CASES = ROOT / "ops" / "lint" / "gitops-negative"
# Oldest Kubernetes the chart supports (Chart.yaml kubeVersion) and the newest
# one kubernetes-validate knows.
KUBE_VERSIONS = ["1.30.0", "1.37.0"]
RELEASE = "leadpipe"
NAMESPACE = "leadpipe"
# Job names the alert rules and the dashboard rely on (compose scrape jobs,
# ServiceMonitor relabelling), by component (compose service, chart component label).
JOBS = {"gateway": "leadpipe-gateway", "consumer": "leadpipe-consumer", "lag-exporter": "leadpipe-lag-exporter"}
# Every consumer instance (and the lag exporter) reports the group lag of every
# partition: a sum (or count) straight over the series would multiply it.
GROUP_LAG_SUMMED = re.compile(
    r"\b(?:sum|count|avg)\s*(?:(?:by|without)\s*\([^)]*\)\s*)?\(\s*leadpipe_consumer_group_lag\b")
# Gateway shutdown after SIGTERM: drain (LEADPIPE_DRAIN_SECS), then in-flight
# requests (LEADPIPE_SHUTDOWN_TIMEOUT_SECS), then the producer flush, for which
# this margin is kept. Binary defaults apply when a variable is not set.
GATEWAY_DEFAULT_DRAIN_SECS = 5
GATEWAY_DEFAULT_SHUTDOWN_TIMEOUT_SECS = 30
FLUSH_MARGIN_SECS = 5
# Variables that would carry a secret value: deployments pass files (*_FILE).
PLAIN_SECRET_VARIABLES = {"LEADPIPE_KAFKA_SASL_PASSWORD", "LEADPIPE_KAFKA_SSL_KEY_PASSWORD",
                          "LEADPIPE_HASH_SECRET", "LEADPIPE_CAPTCHA_SECRET", "LEADPIPE_IP_HASH_KEY",
                          "LEADPIPE_ERASURE_KEY"}
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


# The repository on GitHub (from the runbook links), its owner and the chart registry.
REPOSITORY_URL = RUNBOOK_URL.split("/blob/")[0]
OWNER = REPOSITORY_URL.rstrip("/").split("/")[-2]
