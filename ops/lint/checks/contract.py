"""The contract between the deployment files and the code: metrics.yml is well-formed, and
the metrics, variables and routes it lists exist in the crates; no import cycles."""

from __future__ import annotations

import re

from support.catalogue import ENV_CONTRACT, METRICS, METRIC_TOKEN
from support.common import ROOT, require


def metric_component(metric: str) -> str | None:
    """The binary that defines a catalogued metric; None for an external one."""
    spec = METRICS[metric]
    if spec.get("source") == "external":
        return None
    return spec.get("component") or ("consumer" if metric.startswith("leadpipe_consumer_") else "gateway")


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


def test_module_cycles() -> None:
    """No import cycle between the modules of crates/domain and gateway/src/abuse."""
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


def test_contract_against_sources() -> None:
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


def test_catalogue() -> None:
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
