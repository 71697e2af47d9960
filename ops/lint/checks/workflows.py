"""GitHub Actions workflows (actionlint, policy, agreement with the project) and shellcheck
on the repository's shell scripts."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any, Iterator

import pytest

from support.chart import pod_spec, rendered_objects, schema_node
from support.common import (
    CHART, DOCKERFILE, OWNER, ROOT, WORKFLOW_NEGATIVE_CASES, load_yaml, require, run, tool,
)
from support.files import dockerfile_stages
from support.gitops import gitops_application, gitops_chart_source, gitops_documents


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


def test_shellcheck() -> None:
    """shellcheck on the repository's shell scripts (SHELL_SCRIPTS)."""
    run([tool("shellcheck"), "--severity=style", *map(str, SHELL_SCRIPTS)])


# GitHub Actions write permissions a job may ask for (never at the workflow level).
WRITE_SCOPES = {"packages", "id-token", "attestations"}
# An action reference pinned to a release: a major (or full) version tag, or a commit SHA.
PINNED_ACTION = re.compile(r"^[\w.-]+/[\w./-]+@(?:v\d+(?:\.\d+){0,2}|[0-9a-f]{40})$")
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


def test_actionlint() -> None:
    """Actionlint (with shellcheck) on .github/workflows."""
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


def test_workflow_policy() -> None:
    """Workflow policy (permissions, timeouts, pinned actions, checkout token)."""
    problems = []
    for path in workflow_files():
        problems += workflow_policy_problems(load_yaml(path), path.name)
    require(not problems, "\n".join(problems))


def step_using(workflow: dict[str, Any], action: str) -> list[dict[str, Any]]:
    return [step for _, step in workflow_steps(workflow) if str(step.get("uses", "")).split("@")[0] == action]


def test_workflows_match_project() -> None:
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


@pytest.mark.parametrize("case", sorted(WORKFLOW_NEGATIVE_CASES.glob("*.y*ml")), ids=lambda path: path.stem)
def test_workflow_rejected(case: Path) -> None:
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
