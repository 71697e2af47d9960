"""The services a measurement needs, each of its own: a Tansu broker (in-memory or
SQLite storage) with the topics, a fresh database on the local PostgreSQL, and the
release builds of the gateway and the consumer."""

import subprocess
import tempfile
import uuid
from pathlib import Path

from .proc import Proc, free_port, run, wait_http, wait_port

ROOT = Path(__file__).resolve().parents[2]
RELEASE = ROOT / "target" / "release"
PG_SERVER = "postgres://postgres@127.0.0.1:5432"
PARTITIONS = 12


class Stack:
    """Everything started for one measurement, stopped together."""

    def __init__(self, name: str):
        self.dir = Path(tempfile.mkdtemp(prefix=f"leadpipe-bench-{name}-"))
        self.procs: dict[str, Proc] = {}
        self.databases: list[str] = []

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        for proc in reversed(list(self.procs.values())):
            proc.stop()
        for name in self.databases:
            subprocess.run(
                ["psql", f"{PG_SERVER}/postgres", "-qc", f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"],
                check=False,
                stdout=subprocess.DEVNULL,
            )

    def broker(self, engine: str) -> str:
        """Tansu with `memory` or `sqlite` storage; returns `host:port`."""
        port = free_port()
        url = f"tcp://127.0.0.1:{port}"
        storage = "memory://tansu/" if engine == "memory" else "sqlite://./tansu.db"
        self.procs["broker"] = Proc(
            "broker",
            ["tansu", "broker", "--listener-url", url, "--advertised-listener-url", url, "--storage-engine", storage],
            {"RUST_LOG": "warn"},
            self.dir,
            cwd=self.dir,
        )
        wait_port(port)
        for topic, partitions in (("leads", PARTITIONS), ("leads.dlq", 1)):
            run(["tansu", "topic", "create", "--broker", url, "--partitions", str(partitions), topic])
        return f"127.0.0.1:{port}"

    def database(self) -> str:
        """A fresh database, migrated; returns its URL."""
        name = f"leadpipe_bench_{uuid.uuid4().hex[:12]}"
        run(["psql", f"{PG_SERVER}/postgres", "-qc", f"CREATE DATABASE {name}"])
        self.databases.append(name)
        url = f"{PG_SERVER}/{name}"
        run([str(RELEASE / "leadpipe-consumer"), "migrate"], {"LEADPIPE_DATABASE_URL": url})
        return url

    def gateway(self, name: str, brokers: str, extra: dict | None = None) -> str:
        """A gateway; returns its base URL once it is ready."""
        port = free_port()
        env = {
            "LEADPIPE_HTTP_ADDR": f"127.0.0.1:{port}",
            "LEADPIPE_KAFKA_BROKERS": brokers,
            # Tansu 0.6 wedges idempotent producers after an outage (see README).
            "LEADPIPE_KAFKA_IDEMPOTENCE": "false",
            "LEADPIPE_LOG_FORMAT": "json",
            "LEADPIPE_DRAIN_SECS": "0",
            "LEADPIPE_MAX_IN_FLIGHT": "8192",
        }
        env.update(extra or {})
        self.procs[name] = Proc(name, [str(RELEASE / "leadpipe-gateway")], env, self.dir)
        base = f"http://127.0.0.1:{port}"
        wait_http(base + "/readyz")
        return base

    def consumer(self, name: str, brokers: str, database_url: str, extra: dict | None = None) -> str:
        """A consumer; returns its metrics URL once it is ready."""
        port = free_port()
        env = {
            "LEADPIPE_HTTP_ADDR": f"127.0.0.1:{port}",
            "LEADPIPE_KAFKA_BROKERS": brokers,
            "LEADPIPE_DATABASE_URL": database_url,
            "LEADPIPE_KAFKA_IDEMPOTENCE": "false",
            "LEADPIPE_LOG_FORMAT": "json",
            "LEADPIPE_LAG_INTERVAL_MS": "1000",
        }
        env.update(extra or {})
        self.procs[name] = Proc(name, [str(RELEASE / "leadpipe-consumer"), "run"], env, self.dir)
        base = f"http://127.0.0.1:{port}"
        wait_http(base + "/readyz")
        return base + "/metrics"

    def pipeline(self, engine: str, gateway_env: dict | None = None) -> tuple[str, str, str]:
        """Broker, database, one consumer and one gateway; returns the gateway's base URL,
        the database URL and the consumer's metrics URL."""
        brokers = self.broker(engine)
        database = self.database()
        consumer_metrics = self.consumer("consumer", brokers, database)
        return self.gateway("gateway", brokers, gateway_env), database, consumer_metrics

    def measured(self) -> dict:
        """The processes of a pipeline whose CPU a measurement reads."""
        return {name: self.procs[name] for name in ("gateway", "broker", "consumer")}

    def example(self, name: str, args: list) -> Proc:
        """A long-running example binary of the gateway crate (the baseline endpoint)."""
        proc = Proc(name, [str(RELEASE / "examples" / name), *args], {}, self.dir)
        self.procs[name] = proc
        return proc
