"""The chart renders: helm lint --strict and kubernetes-validate for every scenario under
helm/leadpipe/ci, the schema, the values it must refuse, and its README."""

from __future__ import annotations

import copy
import json
import re
import tempfile
from pathlib import Path
from typing import Any

import pytest
import yaml

from support.chart import (
    crd_validator, database_url_of, helm_module, mounted_file, pod_spec, readme_created_objects, render,
    rendered_objects, scenario_values, scenarios, url_query,
)
from support.common import (
    CHART, CheckFailed, KUBE_VERSIONS, NAMESPACE, NEGATIVE_CASES, load_yaml, quiet_stderr, require, run,
    tool,
)


# Kinds validated against ops/lint/crd-schemas instead of the Kubernetes schemas.
CRD_KINDS = ("ScaledObject", "TriggerAuthentication", "ServiceMonitor", "PrometheusRule")


@pytest.mark.parametrize("values_file", scenarios(), ids=lambda path: path.stem)
def test_helm_lint(values_file: Path) -> None:
    """Lint --strict."""
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


@pytest.mark.parametrize("values_file", scenarios(), ids=lambda path: path.stem)
def test_kubernetes_validate(values_file: Path) -> None:
    """Render + kubernetes-validate --strict every supported Kubernetes version."""
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


def test_kubernetes_validate_rejects_unknown_field() -> None:
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


@pytest.mark.parametrize("case", sorted(NEGATIVE_CASES.glob("*.yaml")), ids=lambda path: path.stem)
def test_chart_rejects(case: Path) -> None:
    """Rejects bad values."""
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


def test_chart_readme() -> None:
    """README documents every value."""
    readme = (CHART / "README.md").read_text()
    documented = set(re.findall(r"^\|\s*`([^`]+)`\s*\|", readme, re.MULTILINE))
    leaves = flatten_keys(load_yaml(CHART / "values.yaml"))
    missing = [key for key in leaves if key not in documented]
    require(not missing, "values not in the README table: " + ", ".join(missing))
    stale = sorted(documented - set(leaves))
    require(not stale, "README documents values that do not exist: " + ", ".join(stale))


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


def test_chart_readme_example() -> None:
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


def test_chart_schema_covers_defaults() -> None:
    """values.yaml and values.schema.json agree, and the schema itself is valid."""
    import jsonschema

    schema = json.loads((CHART / "values.schema.json").read_text())
    jsonschema.Draft7Validator.check_schema(schema)
    errors = list(jsonschema.Draft7Validator(schema).iter_errors(load_yaml(CHART / "values.yaml")))
    require(not errors, "\n".join(f"{'/'.join(map(str, e.path))}: {e.message}" for e in errors))
