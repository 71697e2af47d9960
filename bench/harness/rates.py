"""What a lead costs at the rates an event page sees most of the day, and at saturation
against the floor of the same work (a bare actix endpoint + a bare producer).

Low rates: one pipeline on the in-memory broker (so the broker is not the limit), left
idle, then fed open loop by `leadpipe-loadtest` at each rate in turn. CPU per accepted
lead for gateway, consumer and broker is read from /proc over the sending window plus
the consumer's catch-up; context switches per lead (every thread of the process, from
/proc/<pid>/task/*/status) say how many hand-offs a lead costs, and the per-thread
breakdown is kept in results.json."""

import json
import time

from . import load, sections
from .proc import CpuMeter, free_port, run, wait_port
from .stack import RELEASE, Stack
from .threads import ThreadMeter, per_lead

RATES = (100, 200, 500, 1000, 2000)


def _stored(database: str) -> int:
    out = run(["psql", database, "-Atqc", "SELECT count(*) FROM leads"])
    return int(out.strip())


def _caught_up(database: str, timeout: float = 30) -> None:
    """Waits until the stored-row count stops changing for a second."""
    deadline = time.monotonic() + timeout
    last = _stored(database)
    while time.monotonic() < deadline:
        time.sleep(1)
        now = _stored(database)
        if now == last:
            return
        last = now


def _send(base: str, rate: int, seconds: int) -> tuple[dict, str]:
    result = load.loadtest(base, rate, seconds)
    shown = result["command"].split("leadpipe-loadtest ", 1)[1].replace(base, "GATEWAY")
    return result["report"], f"python3 bench/bench.py --only low_rates; leadpipe-loadtest {shown}"


def _measure(stack: Stack, database: str, send) -> dict:
    procs = stack.measured()
    threads = {name: ThreadMeter(procs[name].pid).start() for name in ("gateway", "consumer")}
    meter = CpuMeter(procs).start()
    result = send()
    _caught_up(database)
    cpu = meter.stop()
    return {"cpu": cpu, "threads": {name: t.stop() for name, t in threads.items()}, "result": result}


def _floor_at(rate: int, seconds: int) -> dict:
    """The same rate against the two halves of the gateway's floor, each alone: the bare
    actix endpoint parsing the same JSON, and a bare producer with the gateway's settings
    sending on the same schedule (its own in-memory broker)."""
    with Stack(f"floor-{rate}") as stack:
        port = free_port()
        server = stack.example("baseline", [f"127.0.0.1:{port}"])
        wait_port(port)
        meter = CpuMeter({"server": server}).start()
        report, _ = _send(f"http://127.0.0.1:{port}", rate, seconds)
        http = meter.stop()["server"]
        brokers = stack.broker("memory")
        messages = rate * seconds
        command = [str(RELEASE / "examples" / "broker_ceiling"), brokers, "leads", str(messages), "512", "false", str(rate)]
        meter = CpuMeter({}).start()
        figures = json.loads(run(command).strip().splitlines()[-1])
        producer = meter.stop()["client"]
    return {
        "http_us": sections.us_per(http, report["totals"]["answered"]),
        "producer_us": sections.us_per(producer, figures["acknowledged"]),
        "floor_command": "cargo run --release -p leadpipe-gateway --example baseline -- 127.0.0.1:PORT + leadpipe-loadtest "
                         f"--rate {rate}; cargo run --release -p leadpipe-gateway --example broker_ceiling -- BROKER leads "
                         f"{messages} 512 false {rate}",
    }


def low_rates(seconds: int) -> dict:
    rows = []
    with Stack("low-rates") as stack:
        base, database, _ = stack.pipeline("memory")
        load.warm_up(base)
        _caught_up(database)
        idle = _measure(stack, database, lambda: time.sleep(seconds))
        row = {"rate": 0, "command": "python3 bench/bench.py --only low_rates (the stack left idle)"}
        for name in ("gateway", "broker", "consumer"):
            row[f"{name}_us"] = round(100 * idle["cpu"][name] / idle["cpu"]["wall"], 2)
        for name in ("gateway", "consumer"):
            row[f"{name}_switches"] = round(sum(t["switches"] for t in idle["threads"][name].values())
                                            / idle["cpu"]["wall"], 1)
        row["note"] = "idle: CPU in % of one core, context switches per second"
        row["threads"] = idle["threads"]
        rows.append(row)
        for rate in RATES:
            seen = _measure(stack, database, lambda: _send(base, rate, seconds))
            report, command = seen["result"]
            accepted = report["totals"]["accepted"]
            cpu = seen["cpu"]
            row = {"rate": rate, "accepted": accepted, "p50_ms": report["latency"]["p50_ms"],
                   "p99_ms": report["latency"]["p99_ms"], "command": command}
            for name in ("gateway", "broker", "consumer", "client"):
                row[f"{name}_us"] = sections.us_per(cpu[name], accepted)
            for name in ("gateway", "consumer"):
                switches = sum(t["switches"] for t in seen["threads"][name].values())
                row[f"{name}_switches"] = round(switches / accepted, 1) if accepted else None
                row[f"{name}_threads"] = per_lead(seen["threads"][name], accepted) if accepted else {}
            rows.append(row)
    for row in rows[1:]:
        floor_at = _floor_at(row["rate"], seconds)
        row["command"] += " | floor: " + floor_at.pop("floor_command")
        row.update(floor_at)
        if row["gateway_us"] and row["http_us"] and row["producer_us"]:
            row["floor_us"] = round(row["http_us"] + row["producer_us"], 1)
            row["ratio"] = round(row["gateway_us"] / row["floor_us"], 2)
    return {
        "name": "low_rates",
        "title": "What a lead costs at low rates (open loop, in-memory broker, one stack fed each rate in turn)",
        "note": "CPU µs per accepted lead of each process over the sending window and the consumer's catch-up; "
                "switches = context switches per accepted lead, every thread of the process. Rate 0: the stack idle "
                "for the same time, CPU in % of one core and context switches per second. Floor: the bare actix "
                "endpoint and a bare producer with the gateway's settings, each alone at the same rate; "
                "ratio = gateway µs / floor µs.",
        "columns": [("offered/s", "rate", 0), ("accepted", "accepted", 0), ("p50 ms", "p50_ms", 1),
                    ("p99 ms", "p99_ms", 1), ("gateway µs", "gateway_us", 1), ("gateway switches", "gateway_switches", 1),
                    ("consumer µs", "consumer_us", 1), ("consumer switches", "consumer_switches", 1),
                    ("broker µs", "broker_us", 1), ("client µs", "client_us", 1), ("actix floor µs", "http_us", 1),
                    ("producer floor µs", "producer_us", 1), ("ratio to floor", "ratio", 2)],
        "rows": rows,
    }


def floor(seconds: int) -> dict:
    """The gateway at saturation (wrk, rate limits off, in-memory broker) against the sum
    of its two floors measured in the same run: the bare actix endpoint and the bare
    producer at the same number of requests in flight."""
    http = {r["connections"]: r for r in sections.http_ceiling(seconds)["rows"]}
    producer = {r["in_flight"]: r for r in sections.producer_ceiling(seconds, engines=("memory",))["rows"]}
    gateway = {r["connections"]: r for r in sections.gateway(seconds, runs=sections.GATEWAY_RUNS[:1])["rows"]}
    rows = []
    for connections in sections.CONNECTIONS:
        floor_us = http[connections]["server_us"] + producer[connections]["producer_us"]
        rows.append({
            "connections": connections,
            "gateway_per_s": gateway[connections]["per_s"],
            "gateway_us": gateway[connections]["gateway_us"],
            "http_us": http[connections]["server_us"],
            "producer_us": producer[connections]["producer_us"],
            "floor_us": round(floor_us, 1),
            "ratio": round(gateway[connections]["gateway_us"] / floor_us, 2),
            "command": "python3 bench/bench.py --only floor (" + "; ".join(
                (http[connections]["command"], producer[connections]["command"], gateway[connections]["command"])) + ")",
        })
    return {
        "name": "floor",
        "title": "The gateway at saturation against its floor, same run (in-memory broker, rate limits off)",
        "note": "floor = CPU per request of the bare actix endpoint parsing the same JSON + CPU per message of a bare "
                "producer with the gateway's settings at the same number in flight; ratio = gateway µs / floor µs.",
        "columns": [("connections", "connections", 0), ("gateway accepted/s", "gateway_per_s", 0),
                    ("gateway µs", "gateway_us", 1), ("actix floor µs", "http_us", 1),
                    ("producer floor µs", "producer_us", 1), ("floor µs", "floor_us", 1), ("ratio", "ratio", 2)],
        "rows": rows,
    }


RUN = {"low_rates": low_rates, "floor": floor}
