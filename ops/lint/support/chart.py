"""The Helm chart rendered with Helm's own Go code (helm-python-sdk), and readers of what
it renders: pod specs, environment, mounted files, URLs, the values schema."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml

from support.common import CHART, CHART_CI_VALUES, CRD_SCHEMAS, NAMESPACE, RELEASE, load_yaml, quiet_stderr


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


def crd_validator(kind: str) -> Any:
    import jsonschema

    path = CRD_SCHEMAS / f"{kind.lower()}.json"
    if not path.exists():
        return None
    return jsonschema.Draft7Validator(json.loads(path.read_text()))


def pod_spec(obj: dict[str, Any]) -> dict[str, Any]:
    return obj["spec"]["template"]["spec"]


def labels_match(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return all(labels.get(k) == v for k, v in selector.items())


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


def url_port(url: str, default: int) -> int:
    from urllib.parse import urlsplit

    return urlsplit(url).port or default


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
