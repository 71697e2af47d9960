"""The measurements of `make bench`, one function per section. Each returns a section of
the report: a title, table columns, rows (each with the command that produced it)."""

import json
import signal
import subprocess
import time
import urllib.request

from . import load
from .proc import CpuMeter, Proc, cpu_seconds, free_port, memory_kib, run, wait_port
from .stack import RELEASE, ROOT, Stack


def us_per(cpu_seconds: float, count: int) -> float | None:
    return round(cpu_seconds * 1e6 / count, 1) if count else None


def _metric(url: str, name: str) -> float:
    with urllib.request.urlopen(url, timeout=5) as response:
        for line in response.read().decode().splitlines():
            if line.startswith(name + " "):
                return float(line.split()[1])
    return 0.0


CONNECTIONS = (64, 512)


def http_ceiling(seconds: int) -> dict:
    """The floor of HTTP work: the smallest actix endpoint that parses the same JSON."""
    rows = []
    with Stack("http") as stack:
        port = free_port()
        server = stack.example("baseline", [f"127.0.0.1:{port}"])
        wait_port(port)
        url = f"http://127.0.0.1:{port}/v1/leads"
        load.wrk(url, 64, 2)  # warm-up
        for connections in CONNECTIONS:
            meter = CpuMeter({"server": server}).start()
            figures = load.wrk(url, connections, seconds)
            cpu = meter.stop()
            rows.append({
                "connections": connections,
                "per_s": figures["ok_per_s"],
                "p50_ms": figures["p50_ms"],
                "p99_ms": figures["p99_ms"],
                "server_us": us_per(cpu["server"], figures["ok"]),
                "client_us": us_per(cpu["client"], figures["ok"]),
                "command": "cargo run --release -p leadpipe-gateway --example baseline -- 127.0.0.1:PORT; "
                + figures["command"].replace(str(port), "PORT"),
            })
    return {
        "name": "http_ceiling",
        "title": "Ceiling: a minimal actix-web endpoint parsing the same JSON",
        "columns": [("connections", "connections", 0), ("requests/s", "per_s", 0), ("p50 ms", "p50_ms", 2),
                    ("p99 ms", "p99_ms", 2), ("server CPU µs/request", "server_us", 1),
                    ("wrk CPU µs/request", "client_us", 1)],
        "rows": rows,
    }


def producer_ceiling(seconds: int, engines: tuple = ("memory", "sqlite")) -> dict:
    """The floor of Kafka work: a bare producer with the gateway's settings."""
    rows = []
    for engine in engines:
        for in_flight in CONNECTIONS:
            with Stack(f"producer-{engine}") as stack:
                brokers = stack.broker(engine)
                messages = max(20_000, in_flight * 400) if engine == "memory" else 40_000
                messages = messages // (4 if seconds < 10 else 1)
                command = [str(RELEASE / "examples" / "broker_ceiling"), brokers, "leads", str(messages),
                           str(in_flight), "false"]
                meter = CpuMeter({"broker": stack.procs["broker"]}).start()
                out = run(command)
                cpu = meter.stop()
                figures = json.loads(out.strip().splitlines()[-1])
                rows.append({
                    "engine": engine,
                    "in_flight": in_flight,
                    "per_s": figures["per_s"],
                    "p50_ms": figures["p50_ms"],
                    "p99_ms": figures["p99_ms"],
                    "producer_us": us_per(cpu["client"], figures["acknowledged"]),
                    "broker_us": us_per(cpu["broker"], figures["acknowledged"]),
                    "command": f"cargo run --release -p leadpipe-gateway --example broker_ceiling -- BROKER leads {messages} {in_flight} false",
                })
    return {
        "name": "producer_ceiling",
        "title": "Ceiling: a bare producer with the gateway's settings (acks=all, linger 5 ms, lz4, 12 partitions)",
        "columns": [("broker storage", "engine", 0), ("in flight", "in_flight", 0), ("acknowledged/s", "per_s", 0),
                    ("p50 ms", "p50_ms", 2), ("p99 ms", "p99_ms", 2), ("producer CPU µs/message", "producer_us", 1),
                    ("broker CPU µs/message", "broker_us", 1)],
        "rows": rows,
    }


# The gateway's rate limits: off (the floor comparison), on in-process, on through Redis.
# Emails, phones and client addresses (X-Forwarded-For from a trusted 127.0.0.1) are new
# for every request (bench/post.lua), so no limit refuses: what is measured is the cost
# of checking three limits per request.
LIMITS_OFF = {"LEADPIPE_RATE_LIMIT_IP": "", "LEADPIPE_RATE_LIMIT_EMAIL": "", "LEADPIPE_RATE_LIMIT_PHONE": ""}
LIMITS_LOCAL = {"LEADPIPE_RATE_LIMIT_IP": "30/1m", "LEADPIPE_TRUSTED_PROXIES": "127.0.0.1/32",
                "LEADPIPE_RATE_LIMIT_EMAIL": "5/1h", "LEADPIPE_RATE_LIMIT_PHONE": "5/1h"}
LIMITS_REDIS = {**LIMITS_LOCAL, "LEADPIPE_REDIS_URL": "redis://127.0.0.1:6379/15",
                "LEADPIPE_HASH_SECRET": "bench"}
GATEWAY_RUNS = (("memory", "off", LIMITS_OFF), ("memory", "in-process", LIMITS_LOCAL),
                ("memory", "Redis", LIMITS_REDIS), ("sqlite", "off", LIMITS_OFF))


def gateway(seconds: int, runs: tuple = GATEWAY_RUNS) -> dict:
    """The gateway under wrk, with a consumer draining into PostgreSQL meanwhile."""
    rows = []
    for engine, limits, env in runs:
        with Stack(f"gateway-{engine}") as stack:
            base, _, _ = stack.pipeline(engine, env)
            url = base + "/v1/leads"
            load.wrk(url, 64, 2)  # warm-up
            for connections in CONNECTIONS:
                procs = stack.measured()
                redis_before = redis_cpu() if limits == "Redis" else 0.0
                meter = CpuMeter(procs).start()
                figures = load.wrk(url, connections, seconds)
                cpu = meter.stop()
                accepted = figures["ok"]
                row = {
                    "engine": engine,
                    "limits": limits,
                    "connections": connections,
                    "per_s": figures["ok_per_s"],
                    "p50_ms": figures["p50_ms"],
                    "p99_ms": figures["p99_ms"],
                    "errors": figures["non_2xx"] + sum(figures["socket_errors"]),
                    "command": "python3 bench/bench.py --only gateway; " + figures["command"].split(" http")[0] + " GATEWAY/v1/leads",
                }
                for name in ("gateway", "broker", "consumer", "client"):
                    row[f"{name}_us"] = us_per(cpu[name], accepted)
                if limits == "Redis":
                    row["redis_us"] = us_per(redis_cpu() - redis_before, accepted)
                row["cores_busy"] = round(sum(cpu[n] for n in ("gateway", "broker", "consumer", "client")) / cpu["wall"], 2)
                rows.append(row)
    return {
        "name": "gateway",
        "title": "The gateway under wrk (closed loop), a consumer draining into PostgreSQL at the same time",
        "note": "CPU per accepted lead for each process, read from /proc over the run. Rate limits: off, "
                "in-process (IP, email and phone, every key new), or shared through the machine's Redis.",
        "columns": [("broker storage", "engine", 0), ("rate limits", "limits", 0), ("connections", "connections", 0),
                    ("accepted/s", "per_s", 0), ("p50 ms", "p50_ms", 1), ("p99 ms", "p99_ms", 1),
                    ("gateway µs", "gateway_us", 1), ("broker µs", "broker_us", 1), ("consumer µs", "consumer_us", 1),
                    ("wrk µs", "client_us", 1), ("Redis µs", "redis_us", 1), ("cores busy", "cores_busy", 2),
                    ("errors", "errors", 0)],
        "rows": rows,
    }


def redis_cpu() -> float:
    """CPU seconds of the machine's redis-server (its pid from `redis-cli info`)."""
    info = run(["redis-cli", "-n", "15", "info", "server"])
    pid = int(next(line.split(":")[1] for line in info.splitlines() if line.startswith("process_id:")))
    return cpu_seconds(pid)


def _open_loop_run(engine: str, rate: int, seconds: int) -> dict:
    with Stack(f"pipeline-{engine}-{rate}") as stack:
        base, database, consumer_metrics = stack.pipeline(engine)
        load.warm_up(base)
        procs = stack.measured()
        meter = CpuMeter(procs).start()
        result = load.loadtest(base, rate, seconds, database, consumer_metrics)
        cpu = meter.stop()
    r = result["report"]
    reconciliation = r.get("reconciliation") or {}
    accepted = reconciliation.get("accepted") or r["totals"]["accepted"]
    row = {
        "engine": engine,
        "rate": rate,
        "answered_per_s": r["rates"]["answered"],
        "p50_ms": r["latency"]["p50_ms"],
        "p99_ms": r["latency"]["p99_ms"],
        "dropped": r["totals"]["dropped"],
        "accepted": accepted,
        "missing": reconciliation.get("missing"),
        "duplicated": reconciliation.get("duplicated"),
        "clean": bool(reconciliation.get("clean")),
        "command": result["command"].split(" --target")[0] + f" --rate {rate} --duration {seconds}s --connections 512 --verify-db DB --consumer-metrics CONSUMER/metrics",
    }
    for name in ("gateway", "broker", "consumer", "client"):
        row[f"{name}_us"] = us_per(cpu[name], accepted)
    row["sustained"] = bool(row["clean"] and row["dropped"] == 0 and row["p99_ms"] is not None and row["p99_ms"] <= 100)
    return row


def _idle_run(engine: str, seconds: int) -> dict:
    """CPU of every process of a fresh stack with no traffic at all: the fixed cost that
    a low rate divides among few leads."""
    with Stack(f"idle-{engine}") as stack:
        stack.pipeline(engine)
        time.sleep(2)
        procs = stack.measured()
        meter = CpuMeter(procs).start()
        time.sleep(seconds)
        cpu = meter.stop()
    row = {"engine": engine, "rate": 0, "note": "no traffic: CPU in % of one core",
           "command": "python3 bench/bench.py --only pipeline (a stack left idle)"}
    for name in ("gateway", "broker", "consumer"):
        row[f"{name}_idle_pct"] = round(100 * cpu[name] / cpu["wall"], 1)
    return row


def pipeline(seconds: int) -> dict:
    """Open loop at fixed rates on a fresh stack each: the highest rate sustained with
    p99 ≤ 100 ms and zero reconciliation gaps, then half of it."""
    rows = []
    for engine in ("sqlite", "memory"):
        rows.append(_idle_run(engine, seconds))
        best = None
        for rate in (500, 1000, 2000, 3000, 4000, 6000):
            row = _open_loop_run(engine, rate, seconds)
            rows.append(row)
            if not row["sustained"]:
                break
            best = rate
        if best:
            half = _open_loop_run(engine, best // 2, seconds)
            half["note"] = "half of the highest sustained rate"
            rows.append(half)
    return {
        "name": "pipeline",
        "title": "The whole pipeline, open loop (leadpipe-loadtest), reconciled against PostgreSQL",
        "note": "Each rate on a fresh broker and database, warmed up by 3 s at 200/s; sustained = p99 ≤ 100 ms "
                "from the intended send, nothing dropped, no reconciliation gap. Rate 0: the stack idle, CPU in % of a core.",
        "columns": [("broker storage", "engine", 0), ("offered/s", "rate", 0), ("answered/s", "answered_per_s", 0),
                    ("p50 ms", "p50_ms", 1), ("p99 ms", "p99_ms", 1), ("dropped", "dropped", 0),
                    ("accepted", "accepted", 0), ("missing", "missing", 0), ("duplicated", "duplicated", 0),
                    ("sustained", "sustained", 0), ("gateway µs", "gateway_us", 1), ("broker µs", "broker_us", 1),
                    ("consumer µs", "consumer_us", 1), ("client µs", "client_us", 1),
                    ("idle gateway %", "gateway_idle_pct", 1), ("idle broker %", "broker_idle_pct", 1),
                    ("idle consumer %", "consumer_idle_pct", 1)],
        "rows": rows,
    }


def drain(seconds: int) -> dict:
    """The consumer draining a filled topic, against the database's own ceiling."""
    messages = 50_000 if seconds < 10 else 300_000
    command = ["cargo", "bench", "--locked", "-p", "leadpipe-consumer", "--bench", "drain", "--",
               str(messages), "12", "memory"]
    out = run(command, cwd=ROOT, env={"LEADPIPE_TEST_DATABASE_URL": "postgres://postgres@127.0.0.1:5432"})
    figures = json.loads(out.strip().splitlines()[-1])
    rows = [{"step": step, "rows_per_s": value, "command": " ".join(command)} for step, value in figures.items()]
    return {
        "name": "drain",
        "title": f"Consumer drain vs PostgreSQL's own insert paths ({messages:,} leads, in-memory broker)",
        "columns": [("step", "step", 0), ("rows/s", "rows_per_s", 0)],
        "rows": rows,
    }


def idle_connections(seconds: int) -> dict:
    """Resident memory of a gateway holding 10,000 idle keep-alive connections."""
    rows = []
    with Stack("idle") as stack:
        brokers = stack.broker("memory")
        base = stack.gateway("gateway", brokers)
        gateway_proc = stack.procs["gateway"]
        port = int(base.rsplit(":", 1)[1])
        before = memory_kib(gateway_proc.pid, "VmRSS")
        count = 10_000

        def seen():
            time.sleep(2)
            return {"rss_kib": memory_kib(gateway_proc.pid, "VmRSS")}

        held = load.hold_idle_connections(port, count, seen)
        rows.append({
            "connections": held["connections"],
            "rss_before_mib": round(before / 1024, 1),
            "rss_mib": round(held["rss_kib"] / 1024, 1),
            "peak_mib": round(memory_kib(gateway_proc.pid, "VmHWM") / 1024, 1),
            "command": "python3 bench/bench.py --only idle_connections",
        })
    return {
        "name": "idle_connections",
        "title": "Gateway memory with 10,000 idle keep-alive connections",
        "columns": [("connections", "connections", 0), ("RSS before MiB", "rss_before_mib", 1),
                    ("RSS with them MiB", "rss_mib", 1), ("peak RSS MiB", "peak_mib", 1)],
        "rows": rows,
    }


NGINX_CONF = """
worker_processes 1;
pid {dir}/nginx.pid;
error_log {dir}/nginx-error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    upstream leadpipe_gateway {{
        {servers}
        keepalive 128;
    }}
    server {{
        listen 127.0.0.1:{port};
        client_max_body_size 1m;
        location / {{
            proxy_pass http://leadpipe_gateway;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_next_upstream error timeout http_502;
            proxy_next_upstream_tries 2;
        }}
    }}
}}
"""


def horizontal(seconds: int) -> dict:
    """Two gateways behind nginx and two consumers; one gateway killed mid-run."""
    duration = max(seconds, 20)
    rows = []
    with Stack("horizontal") as stack:
        brokers = stack.broker("sqlite")
        database = stack.database()
        metrics_a = stack.consumer("consumer-a", brokers, database)
        stack.consumer("consumer-b", brokers, database)
        gateway_a = stack.gateway("gateway-a", brokers)
        gateway_b = stack.gateway("gateway-b", brokers)
        port = free_port()
        servers = "\n        ".join(f"server {g.removeprefix('http://')} max_fails=1 fail_timeout=5s;"
                                   for g in (gateway_a, gateway_b))
        conf = stack.dir / "nginx.conf"
        conf.write_text(NGINX_CONF.format(dir=stack.dir, servers=servers, port=port))
        stack.procs["nginx"] = Proc("nginx", ["nginx", "-c", str(conf), "-g", "daemon off;"], {}, stack.dir)
        wait_port(port)
        rate = 1000
        reports = stack.dir / "reports"
        command = [str(RELEASE / "leadpipe-loadtest"), "--target", f"http://127.0.0.1:{port}", "--rate", str(rate),
                   "--duration", f"{duration}s", "--connections", "512", "--verify-db", database,
                   "--consumer-metrics", metrics_a, "--drain-timeout", "120s", "--progress", "false",
                   "--report-dir", str(reports)]
        before = {g: _metric(u + "/metrics", "leadpipe_leads_accepted_total") for g, u in
                  (("gateway-a", gateway_a), ("gateway-b", gateway_b))}
        client = subprocess.Popen(command, stdout=subprocess.DEVNULL)
        time.sleep(duration / 2)
        killed_at = duration / 2
        accepted_a = _metric(gateway_a + "/metrics", "leadpipe_leads_accepted_total") - before["gateway-a"]
        stack.procs["gateway-a"].stop(signal.SIGKILL)
        accepted_b_half = _metric(gateway_b + "/metrics", "leadpipe_leads_accepted_total") - before["gateway-b"]
        client.wait(timeout=duration + 300)
        accepted_b = _metric(gateway_b + "/metrics", "leadpipe_leads_accepted_total") - before["gateway-b"]
        r = json.loads((reports / "report.json").read_text())
    findings = r.get("reconciliation") or {}
    outcomes = {o["label"]: o["count"] for o in r.get("outcomes", [])}
    failed = sum(count for label, count in outcomes.items() if label.startswith(("connection", "5")) and label != "503 overloaded")
    rows.append({
        "rate": rate,
        "accepted": findings.get("accepted"),
        "stored": findings.get("stored"),
        "missing": findings.get("missing"),
        "duplicated": findings.get("duplicated"),
        "failed_at_kill": failed,
        "gateway_a_per_s": round(accepted_a / killed_at, 1),
        "gateway_b_per_s_before": round(accepted_b_half / killed_at, 1),
        "gateway_b_per_s_after": round((accepted_b - accepted_b_half) / (duration - killed_at), 1),
        "command": "python3 bench/bench.py --only horizontal (nginx in front of two gateways; loadtest "
        f"--rate {rate} --duration {duration}s through it; gateway A SIGKILLed half-way)",
        "outcomes": outcomes,
        "p99_ms": r["latency"]["p99_ms"],
    })
    return {
        "name": "horizontal",
        "title": "Two gateways behind nginx, two consumers; one gateway killed half-way",
        "columns": [("offered/s", "rate", 0), ("accepted", "accepted", 0), ("stored", "stored", 0),
                    ("missing", "missing", 0), ("duplicated", "duplicated", 0),
                    ("requests failed", "failed_at_kill", 0), ("gateway A/s", "gateway_a_per_s", 1),
                    ("gateway B/s before", "gateway_b_per_s_before", 1), ("gateway B/s after", "gateway_b_per_s_after", 1),
                    ("p99 ms", "p99_ms", 1)],
        "rows": rows,
    }


RUN = {
    "http_ceiling": http_ceiling,
    "producer_ceiling": producer_ceiling,
    "gateway": gateway,
    "pipeline": pipeline,
    "drain": drain,
    "idle_connections": idle_connections,
    "horizontal": horizontal,
}
NAMES = list(RUN)
