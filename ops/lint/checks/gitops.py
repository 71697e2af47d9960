"""The Argo CD Application and the Argo Rollouts manifests checked against the chart they
deploy, and the broken variants they must refuse."""

from __future__ import annotations

import copy
import json
import re
import tempfile
from pathlib import Path
from typing import Any, Callable

import pytest
import yaml

from support.catalogue import query_problems
from support.chart import (
    crd_validator, helm_module, merged_values, mounted_file, pod_spec, readme_created_objects,
    rendered_objects, schema_node, url_query,
)
from support.common import (
    ARGOCD_DIR, CHART, CRD_SCHEMAS, CheckFailed, GITOPS_NEGATIVE_CASES, JOBS, KUBE_VERSIONS, REPOSITORY_URL,
    ROLLOUTS_DIR, ROOT, load_yaml, quiet_stderr, require, run, tool,
)
from support.gitops import (
    GITOPS_KINDS, GitOps, gitops_application, gitops_chart_source, gitops_documents, gitops_objects,
    gitops_sources,
)


ARGOCD_README = ARGOCD_DIR / "README.md"
ARGOCD_NAMESPACE = "argocd"
# What `{{args.<name>}}` stands for when a query is checked offline.
SAMPLE_POD_TEMPLATE_HASH = "5d8f7c9b6d"
ARG_PLACEHOLDER = re.compile(r"\{\{\s*args\.([\w-]+)\s*\}\}")


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
                problems += query_problems(resolved, where)
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


@pytest.mark.parametrize("name", sorted(GITOPS_CHECKS))
def test_gitops(name: str) -> None:
    """The GitOps manifests, one check each:
    - kinds: manifests parse; kinds, apiVersions, namespaces, sources
    - schema: Application, Rollout, AnalysisTemplate schemas; Kubernetes schemas for the rest
    - values: Application helm values exist in values.schema.json, validate and lint
    - workloadref: Rollout workloadRef takes over the gateway Deployment the chart renders
    - analysis: canary analysis (args, catalogued metrics and labels, promtool, canary pods only)
    - secrets: README creates every Secret and ConfigMap the release reads
"""
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


@pytest.mark.parametrize("case", sorted(GITOPS_NEGATIVE_CASES.glob("*.yaml")), ids=lambda path: path.stem)
def test_gitops_rejects(case: Path) -> None:
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
