"""Child processes of the benchmark, and what /proc says about them: CPU time (user +
system, all threads) and resident memory."""

import os
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port} after {timeout} s")


def wait_http(url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} not 200 after {timeout} s")


def cpu_seconds(pid: int) -> float:
    """utime + stime of a running process, every thread included."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def memory_kib(pid: int, field: str) -> int:
    """`VmRSS` or `VmHWM` of a running process, in KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"no {field} for pid {pid}")


class Proc:
    """A long-running child (broker, gateway, consumer...), logging to a file."""

    def __init__(self, name: str, argv: list, env: dict, log_dir: Path, cwd: Path | None = None):
        self.name = name
        self.log = log_dir / f"{name}.log"
        full_env = dict(os.environ)
        full_env.update({k: str(v) for k, v in env.items()})
        self.popen = subprocess.Popen(
            argv,
            env=full_env,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=self.log.open("ab"),
            stderr=subprocess.STDOUT,
        )

    @property
    def pid(self) -> int:
        return self.popen.pid

    def cpu(self) -> float:
        return cpu_seconds(self.pid)

    def alive(self) -> bool:
        return self.popen.poll() is None

    def stop(self, sig=signal.SIGTERM, timeout: float = 30) -> None:
        if self.popen.poll() is None:
            self.popen.send_signal(sig)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()

    def kill(self) -> None:
        self.stop(signal.SIGKILL)


class CpuMeter:
    """CPU seconds used by named processes between `start()` and `stop()`, plus the
    CPU of children that ran and exited in between (the load tool)."""

    def __init__(self, procs: dict):
        self.procs = procs

    def start(self):
        self.before = {name: p.cpu() for name, p in self.procs.items()}
        self.children_before = children_cpu()
        self.started = time.monotonic()
        return self

    def stop(self) -> dict:
        used = {name: p.cpu() - self.before[name] for name, p in self.procs.items()}
        used["client"] = children_cpu() - self.children_before
        used["wall"] = time.monotonic() - self.started
        return used


def children_cpu() -> float:
    usage = os.times()
    return usage.children_user + usage.children_system


def run(argv: list, env: dict | None = None, timeout: float | None = None, cwd=None) -> str:
    """Runs a command to its end and returns its stdout (stderr is passed through)."""
    full_env = dict(os.environ)
    full_env.update({k: str(v) for k, v in (env or {}).items()})
    done = subprocess.run(argv, env=full_env, cwd=cwd, stdout=subprocess.PIPE, timeout=timeout, check=True)
    return done.stdout.decode()
