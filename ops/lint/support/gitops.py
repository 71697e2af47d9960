"""The GitOps manifests under deploy/argocd and deploy/rollouts, parsed."""

from __future__ import annotations

from typing import Any

import yaml

from support.common import ARGOCD_DIR, ROLLOUTS_DIR, ROOT, require


# (apiVersion, kind) of every object under deploy/argocd and deploy/rollouts.
GITOPS_KINDS = {
    ARGOCD_DIR: {("argoproj.io/v1alpha1", "Application"), ("v1", "Secret")},
    ROLLOUTS_DIR: {("argoproj.io/v1alpha1", "Rollout"), ("argoproj.io/v1alpha1", "AnalysisTemplate"),
                   ("autoscaling/v2", "HorizontalPodAutoscaler")},
}
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
