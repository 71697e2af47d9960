#!/usr/bin/env python3
"""`make analyst-bench`: the questions analysts ask, timed on a `leads` table of 10
million realistic rows, and the consumer's drain rate with the same schema.

    python3 bench/analyst/run.py [--rows N] [--reuse] [--runs N] [--drain-messages N]

1. A database of its own (`leadpipe_analyst_bench`) on the local PostgreSQL
   (LEADPIPE_TEST_DATABASE_URL) with the schema before partitioning (migrations up to
   0006, each applied by psql in one transaction as the consumer's `migrate` does);
   `--reuse` keeps one loaded before.
2. The rows (bench/analyst/leads.py) through one COPY, in the order the consumer writes
   them; then migration 0007, timed: it converts the table to monthly partitions as it
   would in production; then VACUUM ANALYZE (what autovacuum does after a load).
3. Each question (bench/analyst/questions.sql) run --runs times through psql; the
   median of all runs but the first is the warm time. One EXPLAIN (ANALYZE, BUFFERS) of
   each is kept in the report.
4. `cargo bench -p leadpipe-consumer --bench drain` with --drain-messages: the
   consumer's drain and the production insert, rows per second.

Writes bench/analyst/results.md and prints the timings. Benchmarks print numbers; the
tests assert behaviour.
"""

import argparse
import datetime as dt
import json
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
sys.path.insert(0, str(HERE.parent))

from analyst import leads  # noqa: E402
from harness import report  # noqa: E402

SERVER = os.environ.get("LEADPIPE_TEST_DATABASE_URL", "postgres://postgres@127.0.0.1:5432")
DATABASE = "leadpipe_analyst_bench"
URL = f"{SERVER}/{DATABASE}"
# The generated year: thirteen months that end before this month.
START = dt.datetime(2025, 11, 1, tzinfo=dt.timezone.utc)
PLANNER_SETTING = "random_page_cost = 1.1"


def psql(sql: str, url: str = URL, stdin=None, capture=True) -> str:
    command = ["psql", "-X", "-q", "-tA", "-F", " | ", "-v", "ON_ERROR_STOP=1", "-d", url, "-c", sql]
    result = subprocess.run(command, stdin=stdin, text=True, check=True,
                            stdout=subprocess.PIPE if capture else None)
    return result.stdout if capture else ""


def timed(label: str, action):
    started = time.monotonic()
    value = action()
    seconds = time.monotonic() - started
    print(f"analyst-bench: {label}: {seconds:.1f} s", flush=True)
    return seconds, value


def load(rows: int) -> dict:
    """The rows as a database of the schema before partitioning holds them, then the
    upgrade to the partitioned table (migration 0007), as an operator would run it."""
    figures = {}
    psql(f"DROP DATABASE IF EXISTS {DATABASE}", url=f"{SERVER}/postgres")
    psql(f"CREATE DATABASE {DATABASE}", url=f"{SERVER}/postgres")
    migrations = sorted((ROOT / "migrations").glob("*.sql"))

    def apply(migration: Path) -> None:
        """One migration in one transaction, as `leadpipe-consumer migrate` applies it."""
        subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-1", "-d", URL, "-f", str(migration)],
                       check=True, stdout=subprocess.DEVNULL)

    for migration in migrations:
        if migration.name < "0007":
            apply(migration)

    def copy():
        command = ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", URL,
                   "-c", f"\\copy leads ({leads.COLUMNS}) FROM STDIN"]
        with subprocess.Popen(command, stdin=subprocess.PIPE, text=True) as process:
            for line in leads.rows(rows, START):
                process.stdin.write(line)
            process.stdin.close()
            if process.wait() != 0:
                raise SystemExit("analyst-bench: COPY failed")

    figures["COPY into the table before 0007"], _ = timed(
        f"COPY of {rows} rows into the table before 0007 (generated on the fly)", copy)
    conversion = next(m for m in migrations if m.name.startswith("0007"))
    figures["migration 0007 (conversion to partitions)"], _ = timed(
        f"{conversion.name}: the conversion to monthly partitions", lambda: apply(conversion))
    for migration in migrations:
        if migration.name > conversion.name:
            apply(migration)
    figures["VACUUM ANALYZE"], _ = timed("VACUUM ANALYZE", lambda: psql("VACUUM ANALYZE"))
    figures["refresh of lead_campaign_people (hourly)"], _ = timed(
        "refresh_lead_rollups: the hourly refresh of lead_campaign_people",
        lambda: psql("SELECT refresh_lead_rollups(interval '0')"))
    # The planner setting docs/schema.md recommends for the analysts' replica (SSD, data
    # in memory): without it the latest-lead-per-contact page sorts the whole campaign.
    psql(f"ALTER DATABASE {DATABASE} SET {PLANNER_SETTING}")
    return figures


def questions() -> list[tuple[str, str]]:
    """(title, SQL) of each question in questions.sql: a `-- title` line, then the SQL."""
    found = []
    for block in (HERE / "questions.sql").read_text().split("\n\n"):
        lines = [l for l in block.strip().splitlines() if l.strip()]
        if lines and lines[0].startswith("-- "):
            found.append((lines[0][3:].strip(), "\n".join(lines[1:])))
    return found


def time_question(sql: str, runs: int) -> list[float]:
    script = "\\timing on\n\\o /dev/null\n" + (sql.rstrip().rstrip(";") + ";\n") * runs
    out = subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", URL], input=script, text=True,
                         check=True, stdout=subprocess.PIPE).stdout
    return [float(ms) for ms in re.findall(r"^Time: ([0-9.]+) ms", out, re.M)]


def drain(messages: int) -> dict:
    out = subprocess.run(["cargo", "bench", "--locked", "-q", "-p", "leadpipe-consumer", "--bench", "drain", "--",
                          str(messages), "4", "memory"], cwd=ROOT, check=True, text=True,
                         stdout=subprocess.PIPE).stdout
    print(out, end="")
    return json.loads(out.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--reuse", action="store_true", help="keep the database of an earlier run")
    parser.add_argument("--runs", type=int, default=6)
    parser.add_argument("--drain-messages", type=int, default=200_000, help="0: skip the drain")
    options = parser.parse_args()

    loaded = {}
    if not options.reuse:
        loaded = load(options.rows)
    counts = psql("SELECT (SELECT count(*) FROM leads), (SELECT count(DISTINCT campaign) FROM leads), "
                  "(SELECT pg_size_pretty(sum(pg_total_relation_size(relid))) FROM pg_partition_tree('leads'))",
                  ).strip()
    print(f"analyst-bench: leads (rows, campaigns, size): {counts}")

    results = []
    for title, sql in questions():
        times = time_question(sql, options.runs)
        warm = statistics.median(times[1:]) if len(times) > 1 else times[0]
        plan = psql(f"EXPLAIN (ANALYZE, BUFFERS) {sql}")
        returned = psql(f"SELECT count(*) FROM ({sql.rstrip().rstrip(';')}) AS answer").strip()
        results.append({"title": title, "sql": sql, "first_ms": times[0], "warm_ms": warm, "rows": returned,
                        "plan": plan})
        print(f"analyst-bench: {warm:8.1f} ms warm ({times[0]:.1f} first, {returned} rows)  {title}", flush=True)

    rates = drain(options.drain_messages) if options.drain_messages else {}
    write(results, loaded, counts, rates, options)
    print("analyst-bench: wrote bench/analyst/results.md")
    print("\nanalyst-bench: the questions (warm, median; 1-5 are the five asked, a-c their variants), "
          "goal 200 ms:")
    for r in results:
        verdict = "under" if r["warm_ms"] < 200 else "OVER"
        print(f"  {r['warm_ms']:8.1f} ms  {verdict:5}  {r['title']}")
    for label, rate in rates.items():
        if "drain" in label or label.startswith("UNNEST insert (batches"):
            print(f"  {rate:8.0f} rows/s  {label}")
    return 0


def write(results, loaded, counts, rates, options) -> None:
    m = report.machine()
    server = psql("SHOW server_version").strip()
    machine = (f"{m['cores']} cores ({m['cpu']}), {m['memory_gib']} GiB, kernel {m['kernel']}, "
               f"PostgreSQL {server} (shared_buffers {psql('SHOW shared_buffers').strip()}, "
               f"random_page_cost {psql('SHOW random_page_cost').strip()}, "
               f"max_parallel_workers_per_gather {psql('SHOW max_parallel_workers_per_gather').strip()})")
    lines = ["# Analyst questions at scale", "",
             f"`python3 bench/analyst/run.py --rows {options.rows} --runs {options.runs} "
             f"--drain-messages {options.drain_messages}` (`make analyst-bench`), "
             f"{dt.date.today().isoformat()}, on {machine}.", "",
             f"`leads`: {counts} (rows | campaigns | size with indexes). " +
             ("Loaded: " + ", ".join(f"{k} {v:.0f} s" for k, v in loaded.items()) + "." if loaded else
              "Loaded by an earlier run."), "",
             "| question | warm ms (median) | first ms | rows |", "|---|---|---|---|"]
    for r in results:
        lines.append(f"| {r['title']} | {r['warm_ms']:.1f} | {r['first_ms']:.1f} | {r['rows']} |")
    if rates:
        lines += ["", "Drain (`cargo bench -p leadpipe-consumer --bench drain -- "
                  f"{options.drain_messages} 4 memory`), rows/s:", ""]
        lines += [f"- {k}: {v:.0f}" for k, v in rates.items()]
    for r in results:
        lines += ["", f"## {r['title']}", "", "```sql", r["sql"].strip(), "```", "", "```text", r["plan"].rstrip(),
                  "```"]
    (HERE / "results.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    sys.exit(main())
