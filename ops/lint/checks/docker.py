"""The Dockerfile: hadolint, the image structure, .dockerignore, the binaries it copies."""

from __future__ import annotations

import fnmatch
import json
import re
import tomllib

from support.common import DOCKERFILE, ROOT, require, run, tool
from support.files import dockerfile_stages


DOCKERIGNORE = ROOT / ".dockerignore"


def test_hadolint() -> None:
    """Hadolint Dockerfile."""
    run([tool("hadolint"), "--no-color", str(DOCKERFILE)])


def test_dockerfile_structure() -> None:
    """Image structure (multi-stage, cargo-chef, distroless nonroot, no HEALTHCHECK)."""
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


def test_dockerignore() -> None:
    """.dockerignore keeps the workspace, drops the rest."""
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


def test_workspace_binaries() -> None:
    """Workspace builds the binaries the images copy."""
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
