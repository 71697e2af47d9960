"""bench/results.json (every figure, with its command and the machine) and
bench/results.md (the same as tables)."""

import json
import os
import platform
import subprocess
from datetime import datetime, timezone
from pathlib import Path


def machine() -> dict:
    cpu = "unknown"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    memory_kib = int(Path("/proc/meminfo").read_text().split()[1])
    tansu = subprocess.run(["tansu", "--version"], capture_output=True, text=True).stdout.strip()
    postgres = subprocess.run(["psql", "--version"], capture_output=True, text=True).stdout.strip()
    return {
        "cores": os.cpu_count(),
        "cpu": cpu,
        "memory_gib": round(memory_kib / 1024 / 1024, 1),
        "kernel": platform.release(),
        "broker": tansu,
        "postgres_client": postgres,
        "when": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


def write(results: dict, directory: Path) -> None:
    (directory / "results.json").write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")
    (directory / "results.md").write_text(markdown(results))


def _f(value, digits=0) -> str:
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (int, float)):
        return f"{value:,.{digits}f}"
    return str(value)


def markdown(results: dict) -> str:
    m = results["machine"]
    lines = [
        "# `make bench` results",
        "",
        f"{m['when']} on {m['cores']} cores ({m['cpu']}), {m['memory_gib']} GiB, kernel {m['kernel']}, "
        f"{m['broker']}; every process on the same cores. Written by `bench/bench.py`; "
        "the explanation of the figures is in docs/benchmarks.md.",
        "",
    ]
    for section in results["sections"]:
        lines += [f"## {section['title']}", ""]
        if section.get("note"):
            lines += [section["note"], ""]
        columns = section["columns"]
        lines.append("| " + " | ".join(title for title, _, _ in columns) + " |")
        lines.append("|" + "---|" * len(columns))
        for row in section["rows"]:
            cells = [_f(row.get(key), digits) for _, key, digits in columns]
            lines.append("| " + " | ".join(cells) + " |")
        lines.append("")
        commands = sorted({row["command"] for row in section["rows"] if row.get("command")})
        if commands:
            lines.append("Commands:")
            lines.append("")
            lines += [f"    {c}" for c in commands]
            lines.append("")
    return "\n".join(lines)
