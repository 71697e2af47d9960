"""Per-thread CPU and context switches of a running process, from /proc/<pid>/task: what
a low rate's cost is made of (which thread wakes, and how often, per lead)."""

import re
from pathlib import Path

from .proc import CLOCK_TICKS


def _group(comm: str) -> str:
    """Threads of one kind under one name: `tokio-runtime-w`, `rdk:broker1` and
    `rdk:broker-1` alike lose their numbers."""
    return re.sub(r"[-:#]?\d+$", "", comm.strip()) or comm


def sample(pid: int) -> dict:
    """Thread group -> [cpu seconds, context switches] of the threads alive now."""
    seen: dict = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            stat = (task / "stat").read_text()
            status = (task / "status").read_text()
        except OSError:  # the thread ended between the listing and the read
            continue
        comm = stat[stat.index("(") + 1:stat.rindex(")")]
        fields = stat.rsplit(")", 1)[1].split()
        cpu = (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
        switches = sum(int(value) for name, _, value in (line.partition(":") for line in status.splitlines())
                       if name.endswith("ctxt_switches"))
        totals = seen.setdefault(_group(comm), [0.0, 0])
        totals[0] += cpu
        totals[1] += switches
    return seen


class ThreadMeter:
    """Context switches and CPU per thread group of one process between `start()` and
    `stop()` (threads that end in between are not counted: the figures are a floor)."""

    def __init__(self, pid: int):
        self.pid = pid

    def start(self):
        self.before = sample(self.pid)
        return self

    def stop(self) -> dict:
        after = sample(self.pid)
        used = {}
        for group, (cpu, switches) in after.items():
            cpu0, switches0 = self.before.get(group, (0.0, 0))
            used[group] = {"cpu_s": round(cpu - cpu0, 3), "switches": switches - switches0}
        return used


def per_lead(threads: dict, leads: int) -> dict:
    """The groups' CPU µs and context switches per lead, busiest first."""
    rows = sorted(threads.items(), key=lambda kv: -kv[1]["cpu_s"])
    return {
        group: {"cpu_us": round(t["cpu_s"] * 1e6 / leads, 1), "switches": round(t["switches"] / leads, 1)}
        for group, t in rows if t["cpu_s"] or t["switches"]
    }
