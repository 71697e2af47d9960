#!/usr/bin/env python3
"""`make bench`: the capacity figures, measured in one go on a quiet machine.

Builds the release binaries, then starts everything a measurement needs on free ports
of its own (Tansu brokers with in-memory or SQLite storage, fresh databases on the local
PostgreSQL, gateways, consumers, nginx) and stops it afterwards. Writes
bench/results.json (every figure with its command and the machine) and bench/results.md.
docs/benchmarks.md explains the figures.

    python3 bench/bench.py [--quick] [--only SECTION ...]

CPU is read from /proc (user + system time of every thread) for each process: gateway,
broker, consumer and the load client, and given per request, message or lead.
"""

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import rates, report, sections  # noqa: E402
from harness.proc import run  # noqa: E402
from harness.stack import ROOT  # noqa: E402


RUN = {**sections.RUN, **rates.RUN}
NAMES = list(RUN)


def build() -> None:
    run(["cargo", "build", "--release", "--locked", "-p", "leadpipe-gateway", "-p", "leadpipe-consumer",
         "-p", "leadpipe-loadtest", "--bins", "--examples"], cwd=ROOT)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="shorter runs (to check the harness, not for figures)")
    parser.add_argument("--only", nargs="*", choices=NAMES, help="run only these sections")
    options = parser.parse_args()
    build()
    seconds = 5 if options.quick else 20
    results = {"machine": report.machine(), "quick": options.quick, "sections": []}
    previous = ROOT / "bench" / "results.json"
    if options.only and previous.exists():
        # Keep the other sections of the last run; replace the ones measured now.
        kept = json.loads(previous.read_text())
        results["sections"] = [s for s in kept["sections"] if s["name"] not in options.only]
    for name in options.only or NAMES:
        started = time.monotonic()
        print(f"bench: {name} ...", flush=True)
        section = RUN[name](seconds)
        section["seconds"] = round(time.monotonic() - started, 1)
        results["sections"] = [s for s in results["sections"] if s["name"] != name] + [section]
        results["sections"].sort(key=lambda s: NAMES.index(s["name"]))
        report.write(results, ROOT / "bench")
        print(f"bench: {name} done in {section['seconds']} s", flush=True)
    print(f"bench: wrote bench/results.json and bench/results.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
