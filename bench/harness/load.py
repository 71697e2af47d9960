"""The load tools: `wrk` (closed loop: N connections, each sends its next request when
the previous one is answered) with `bench/post.lua`, `leadpipe-loadtest` (open loop at a
fixed rate, with reconciliation), and idle keep-alive connections for the memory figure."""

import asyncio
import json
import re
import resource
import tempfile
from pathlib import Path

from .proc import run
from .stack import RELEASE, ROOT

POST_LUA = ROOT / "bench" / "post.lua"

_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3}


def _ms(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", text).groups()
    return float(number) * _UNITS[unit]


def wrk(url: str, connections: int, seconds: int, threads: int = 2) -> dict:
    """`wrk` posting the README's lead; requests/s, 2xx/s and latency percentiles."""
    command = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "-s", str(POST_LUA), "--latency", url]
    out = run(command, timeout=seconds + 60)
    requests = int(re.search(r"(\d+) requests in", out).group(1))
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    latency = {p: _ms(v) for p, v in re.findall(r"^\s+(50|75|90|99)%\s+(\S+)", out, re.M)}
    failed = int(non_2xx.group(1)) if non_2xx else 0
    return {
        "command": " ".join(command).replace(str(ROOT) + "/", ""),
        "requests": requests,
        "requests_per_s": rate,
        "ok": requests - failed,
        "ok_per_s": rate * (requests - failed) / max(requests, 1),
        "non_2xx": failed,
        "socket_errors": [int(n) for n in errors.groups()] if errors else [0, 0, 0, 0],
        "p50_ms": latency.get("50"),
        "p99_ms": latency.get("99"),
    }


def loadtest(target: str, rate: int, seconds: int, database_url: str | None = None,
             consumer_metrics: str | None = None, extra: list | None = None) -> dict:
    """`leadpipe-loadtest` at `rate` for `seconds`, reconciled when given the database and
    the consumer's metrics; the fields of its report."""
    reports = Path(tempfile.mkdtemp(prefix="leadpipe-bench-report-"))
    reconcile = ["--verify-db", database_url, "--consumer-metrics", consumer_metrics,
                 "--drain-timeout", "120s"] if database_url else []
    command = [
        str(RELEASE / "leadpipe-loadtest"),
        "--target", target,
        "--rate", str(rate),
        "--duration", f"{seconds}s",
        "--connections", "512",
        *reconcile,
        "--progress", "false",
        "--report-dir", str(reports),
        *(extra or []),
    ]
    try:
        run(command, timeout=seconds + 300)
        status = 0
    except Exception as error:  # exit 1 = gaps found: the report still says what happened
        status = getattr(error, "returncode", -1)
    report = json.loads((reports / "report.json").read_text())
    shown = [c if not c.startswith(str(ROOT)) else c.replace(str(ROOT) + "/", "") for c in command]
    return {"command": " ".join(shown), "exit": status, "report": report}


def warm_up(target: str) -> None:
    """3 s at 200 leads/s on a fresh stack before a measured run: connections, the phone
    parser's patterns and the producer's batches are then warm, as they are in a running
    service (the first second of a cold gateway answers in hundreds of milliseconds)."""
    reports = Path(tempfile.mkdtemp(prefix="leadpipe-bench-warm-"))
    run([str(RELEASE / "leadpipe-loadtest"), "--target", target, "--rate", "200", "--duration", "3s",
         "--connections", "64", "--progress", "false", "--report-dir", str(reports)], timeout=120)


def hold_idle_connections(port: int, count: int, on_open) -> dict:
    """Opens `count` keep-alive connections to 127.0.0.1:`port`, sends one `GET /healthz`
    on each, and while all are open and idle calls `on_open()`; returns what it saw."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < count + 1000:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(count + 1000, hard), hard))

    async def one(opened: list):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: bench\r\nConnection: keep-alive\r\n\r\n")
        await writer.drain()
        await reader.readuntil(b"\r\n\r\n")
        opened.append(writer)

    async def main():
        opened: list = []
        batch = 500
        for start in range(0, count, batch):
            await asyncio.gather(*(one(opened) for _ in range(min(batch, count - start))))
        seen = on_open()
        for writer in opened:
            writer.close()
        return {"connections": len(opened), **seen}

    return asyncio.run(main())
