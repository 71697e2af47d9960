"""ops/lint/metrics.yml, the catalogue of metrics, labels and variables the deployment
files may use, and the check of a PromQL query against it."""

from __future__ import annotations

import re
from typing import Any

from support.common import CATALOGUE, load_yaml


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


def series_to_metric(name: str) -> tuple[str | None, str]:
    """Map a series name (histograms add _bucket/_sum/_count) to its metric."""
    if name in METRICS:
        return name, ""
    for suffix in ("_bucket", "_sum", "_count"):
        base = name[: -len(suffix)] if name.endswith(suffix) else None
        if base and METRICS.get(base, {}).get("type") == "histogram":
            return base, suffix
    return None, ""


def query_problems(expr: str, where: str) -> list[str]:
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
