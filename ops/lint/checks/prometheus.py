"""Prometheus: promtool on the config, the rules and their unit tests; every alert tested,
catalogued and documented in docs/runbooks.md."""

from __future__ import annotations

import re
import shutil
import tempfile
from pathlib import Path
from typing import Any

import yaml

from support.catalogue import query_problems
from support.common import (
    ALERTS, GROUP_LAG_SUMMED, JOBS, PROM_CONFIG, ROOT, RUNBOOK_URL, load_yaml, require, run, tool,
)
from support.files import binds_of, compose_json, env_of


ALERT_TESTS = ROOT / "ops" / "prometheus" / "tests" / "alerts.test.yml"
# Every unit test file of the rules: alerts.test.yml, and alerts-weekly.test.yml
# for the tests that need a week of series (evaluated at a coarser interval).
ALERT_TEST_FILES = sorted(ALERT_TESTS.parent.glob("*.test.yml"))
RUNBOOKS = ROOT / "docs" / "runbooks.md"
# The alerts files/prometheus/alerts.yml must define, no more and no fewer: each has a
# section in docs/runbooks.md, and changing the set is a deliberate change of this list.
REQUIRED_ALERTS = {
    # gateway
    "LeadpipeGatewayHighErrorRatio", "LeadpipeGatewayBrokerUnreachable", "LeadpipeGatewayAllBrokerUnreachable",
    "LeadpipeGatewayBrokerUnavailableRejections", "LeadpipeGatewayOverloaded",
    "LeadpipeGatewayLatencyBudgetFastBurn", "LeadpipeGatewayLatencyBudgetSlowBurn",
    "LeadpipeNoLeadsAccepted", "LeadpipeHPAAtMaxReplicas",
    # abuse protection
    "LeadpipeRateLimitStoreDown", "LeadpipeCaptchaVerifierUnavailable",
    # end to end
    "LeadpipeLeadsNotStored", "LeadpipeCanaryNotStored", "LeadpipeCanaryNotPublished",
    # consumer
    "LeadpipeConsumerLagGrowing", "LeadpipeConsumerLagHigh", "LeadpipeConsumerStalled",
    "LeadpipeConsumerSelfHealing", "LeadpipeDeadLetterMessages", "LeadpipeConsumerNotReady",
    "LeadpipeConsumerDatabaseErrors", "LeadpipeLeadsInDefaultPartition",
    # scraping
    "LeadpipeTargetDown",
}
# Owned-only lag: reported by a consumer for its own partitions, so it goes silent
# exactly when no consumer is alive. Alerts use leadpipe_consumer_group_lag.
OWNED_ONLY_LAG = "leadpipe_consumer_lag"


def test_promtool_config() -> None:
    """promtool check config on the files laid out as the container sees them."""
    cfg = compose_json()
    with tempfile.TemporaryDirectory() as tmp:
        for target, source in binds_of(cfg["services"]["prometheus"]).items():
            require(target.startswith("/etc/prometheus/"), f"unexpected prometheus mount {target}")
            dest = Path(tmp) / Path(target).relative_to("/etc/prometheus")
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(source, dest)
        proc = run([tool("promtool"), "check", "config", str(Path(tmp) / "prometheus.yml")])
        require("1 rule files found" in proc.stdout, f"the alert rule file is not loaded:\n{proc.stdout}")


def test_prometheus_scrape_jobs() -> None:
    """Scrape jobs match compose services and rule job names."""
    cfg = compose_json()
    prom = load_yaml(PROM_CONFIG)
    jobs = {job["job_name"]: job for job in prom["scrape_configs"]}
    for component, job_name in JOBS.items():
        require(job_name in jobs, f"no scrape job {job_name}")
        sd = jobs[job_name].get("dns_sd_configs", [])
        require(sd, f"{job_name} does not discover the replicas through DNS")
        addr = env_of(cfg["services"][component])["LEADPIPE_HTTP_ADDR"]
        for entry in sd:
            require(entry["names"] == [component], f"{job_name} resolves {entry['names']}, expected [{component}]")
            require(str(entry["port"]) == addr.rsplit(":", 1)[1], f"{job_name} scrapes port {entry['port']}, service listens on {addr}")
    alerts_text = ALERTS.read_text()
    for job_name in JOBS.values():
        require(job_name in alerts_text, f"alert rules never mention job {job_name}")


def test_promtool_rules() -> None:
    """Promtool check rules."""
    run([tool("promtool"), "check", "rules", str(ALERTS)])


def test_promtool_tests() -> None:
    """Promtool test rules."""
    require(ALERT_TESTS in ALERT_TEST_FILES, f"{ALERT_TESTS.name} is missing")
    proc = run([tool("promtool"), "test", "rules", *(f.name for f in ALERT_TEST_FILES)], cwd=ALERT_TESTS.parent)
    require(proc.stdout.count("SUCCESS") == len(ALERT_TEST_FILES) and "FAILED" not in proc.stdout, proc.stdout)


def alert_rules() -> list[dict[str, Any]]:
    return [rule for group in load_yaml(ALERTS)["groups"] for rule in group["rules"] if "alert" in rule]


def test_alert_coverage() -> None:
    """Every alert tested (fires and stays silent), labels, metrics."""
    fires: dict[str, int] = {}
    quiet: dict[str, int] = {}
    for test_file in ALERT_TEST_FILES:
        tests = load_yaml(test_file)
        rule_files = [(test_file.parent / name).resolve() for name in tests["rule_files"]]
        require(rule_files == [ALERTS], f"{test_file.name} loads {rule_files}, not the canonical rule file")
        for case in tests["tests"]:
            for item in case.get("alert_rule_test", []):
                bucket = fires if item.get("exp_alerts") else quiet
                bucket[item["alertname"]] = bucket.get(item["alertname"], 0) + 1
    names = [rule["alert"] for rule in alert_rules()]
    require(len(names) == len(set(names)), "duplicate alert names")
    require(REQUIRED_ALERTS <= set(names), f"missing alerts: {sorted(REQUIRED_ALERTS - set(names))}")
    require(set(names) <= REQUIRED_ALERTS,
            f"alerts not in REQUIRED_ALERTS of ops/lint/checks/prometheus.py (add them there): {sorted(set(names) - REQUIRED_ALERTS)}")
    owned_only = [rule["alert"] for rule in alert_rules() if re.search(rf"\b{OWNED_ONLY_LAG}\b", rule["expr"])]
    require(not owned_only, f"{owned_only}: {OWNED_ONLY_LAG} is exported by live consumers only and goes silent when none"
            " is left; alert on leadpipe_consumer_group_lag (max by topic, partition)")
    summed = [rule["alert"] for rule in alert_rules() if GROUP_LAG_SUMMED.search(rule["expr"])]
    require(not summed, f"{summed}: sum over instances of leadpipe_consumer_group_lag; take max by (topic, partition) first")
    for rule in alert_rules():
        name = rule["alert"]
        require(fires.get(name), f"{name}: no unit test where it fires")
        require(quiet.get(name), f"{name}: no unit test where it stays silent")
        require(rule.get("labels", {}).get("severity") in ("warning", "critical"), f"{name}: severity must be warning or critical")
        annotations = rule.get("annotations", {})
        require(annotations.get("summary") and annotations.get("description"), f"{name}: needs summary and description")
    problems = [p for rule in alert_rules() for p in query_problems(rule["expr"], rule["alert"])]
    require(not problems, "\n".join(problems))


def github_anchor(heading: str) -> str:
    """The anchor GitHub gives a Markdown heading: lower case, punctuation dropped, spaces as hyphens."""
    text = re.sub(r"[`*]", "", heading.strip()).lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def runbook_sections() -> dict[str, str]:
    """The `## ` sections of docs/runbooks.md: anchor -> body."""
    text = re.sub(r"```.*?```", "", RUNBOOKS.read_text(), flags=re.DOTALL)  # no headings inside code
    sections: dict[str, str] = {}
    parts = re.split(r"^## (.+)$", text, flags=re.MULTILINE)
    for heading, body in zip(parts[1::2], parts[2::2]):
        anchor = github_anchor(heading)
        require(anchor not in sections, f"docs/runbooks.md: two sections with anchor #{anchor}")
        sections[anchor] = body
    return sections


def test_alert_runbooks() -> None:
    """Every alert links its section of docs/runbooks.md, and every section belongs to an alert."""
    require(RUNBOOKS.is_file(), f"{RUNBOOKS.relative_to(ROOT)} is missing")
    sections = runbook_sections()
    problems = []
    linked: set[str] = set()
    for rule in alert_rules():
        name = rule["alert"]
        url = rule.get("annotations", {}).get("runbook_url", "")
        base, _, anchor = url.partition("#")
        if base != RUNBOOK_URL or not anchor:
            problems.append(f"{name}: runbook_url {url!r} is not {RUNBOOK_URL}#<section>")
            continue
        if anchor not in sections:
            problems.append(f"{name}: docs/runbooks.md has no section #{anchor}")
            continue
        linked.add(anchor)
        body = sections[anchor]
        if name not in body and github_anchor(name) != anchor:
            problems.append(f"{name}: section #{anchor} never names the alert")
    for anchor, body in sections.items():
        if anchor not in linked:
            problems.append(f"docs/runbooks.md: section #{anchor} belongs to no alert (its runbook_url)")
        elif len(body.split()) < 40:
            problems.append(f"docs/runbooks.md: section #{anchor} is too short to guide anyone")
    require(not problems, "\n".join(problems))


def test_promtool_rejects_broken_rules() -> None:
    """Promtool rejects a broken rule."""
    data = load_yaml(ALERTS)
    data["groups"][0]["rules"][0]["expr"] = "sum by (namespace (rate(leadpipe_http_requests_total[5m]))"
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "broken.yml"
        path.write_text(yaml.safe_dump(data))
        proc = run([tool("promtool"), "check", "rules", str(path)], ok=False)
        require(proc.returncode != 0, "promtool accepted a rule with a syntax error")
