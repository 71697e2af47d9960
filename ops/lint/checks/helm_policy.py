"""What the chart renders for each scenario: probes, resources, security, secrets as files,
shutdown timing, KEDA, and the gateway's abuse protection."""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import pytest

from support.catalogue import ENV_CONTRACT
from support.chart import (
    container_env, database_url_of, helm_module, labels_match, merged_values, mounted_file, pod_spec, render,
    rendered_objects, scenario_values, scenarios, url_query,
)
from support.common import (
    CHART_CI_VALUES, CheckFailed, FLUSH_MARGIN_SECS, GATEWAY_DEFAULT_DRAIN_SECS,
    GATEWAY_DEFAULT_SHUTDOWN_TIMEOUT_SECS, PLAIN_SECRET_VARIABLES, require,
)


# Consumer: LEADPIPE_KAFKA_SESSION_TIMEOUT_MS default, the floor of the stall timeout.
CONSUMER_DEFAULT_SESSION_TIMEOUT_MS = 10000
# Variables a container may take from a Secret (secretKeyRef): whole URLs that may carry a
# password. Every other secret is a read-only file.
SECRET_URL_VARIABLES = {"LEADPIPE_DATABASE_URL", "LEADPIPE_REDIS_URL"}


def external_objects(values: dict[str, Any]) -> dict[str, set[str]]:
    """Secrets and ConfigMaps the values name but the chart does not create."""
    kafka, database, gateway = values["kafka"], values["database"], values["gateway"]["config"]
    secrets = {database["existingSecret"], database["ca"]["secretName"], database["password"]["existingSecret"],
               kafka["sasl"]["existingSecret"], kafka["tls"]["ca"]["secretName"], kafka["tls"]["clientCert"]["secretName"],
               gateway["redis"]["existingSecret"], gateway["hashSecret"]["existingSecret"],
               gateway["captcha"]["secret"]["existingSecret"], gateway["consent"]["ipHashKey"]["existingSecret"],
               values["consumer"]["config"]["erasureKey"]["existingSecret"]}
    config_maps = {database["ca"]["configMapName"], kafka["tls"]["ca"]["configMapName"]}
    return {"Secret": secrets - {""}, "ConfigMap": config_maps - {""}}


KEDA_SASL = {"PLAIN": "plaintext", "SCRAM-SHA-256": "scram_sha256", "SCRAM-SHA-512": "scram_sha512"}


def keda_security_problems(kinds: dict[str, list[dict[str, Any]]], by_name: dict[tuple[str, str], dict[str, Any]],
                        consumer: dict[str, Any], values: dict[str, Any]) -> list[str]:
    """KEDA's Kafka trigger connects like the consumer pods do (protocol, SASL, CA, client certificate)."""
    problems: list[str] = []
    spec = pod_spec(consumer)
    container = spec["containers"][0]
    env = container_env(container, by_name)
    protocol = env.get("LEADPIPE_KAFKA_SECURITY_PROTOCOL", "plaintext")
    volumes = {v["name"]: v for v in spec.get("volumes", [])}
    for scaled in kinds.get("ScaledObject", []):
        for trigger in scaled["spec"]["triggers"]:
            meta, auth = trigger["metadata"], trigger.get("authenticationRef")
            if auth and ("TriggerAuthentication", auth["name"]) not in by_name:
                # The user's own object: it must carry every parameter itself.
                if auth["name"] != values["keda"]["authenticationRef"]:
                    problems.append(f"ScaledObject: TriggerAuthentication {auth['name']} is neither rendered nor keda.authenticationRef")
                if "sasl" in meta or "tls" in meta:
                    problems.append("ScaledObject: sasl/tls in the metadata and in the user's TriggerAuthentication (KEDA refuses both)")
                continue
            tls_expected = protocol in ("ssl", "sasl_ssl")
            if (meta.get("tls") == "enable") != tls_expected:
                problems.append(f"ScaledObject: tls={meta.get('tls')!r} but the consumer uses {protocol}")
            sasl_expected = KEDA_SASL[env["LEADPIPE_KAFKA_SASL_MECHANISM"]] if protocol.startswith("sasl_") else None
            if meta.get("sasl") != sasl_expected:
                problems.append(f"ScaledObject: sasl={meta.get('sasl')!r}, the consumer needs {sasl_expected!r}")
            wanted: dict[str, tuple[str, str, str]] = {}  # KEDA parameter -> (kind, name, key) the pods use
            if "kafka-sasl" in volumes:
                item = volumes["kafka-sasl"]["secret"]
                wanted["password"] = ("Secret", item["secretName"], item["items"][0]["key"])
                wanted["username"] = ("ConfigMap", container["envFrom"][0]["configMapRef"]["name"], "LEADPIPE_KAFKA_SASL_USERNAME")
            if "kafka-ca" in volumes:
                source = volumes["kafka-ca"]
                kind, name = ("Secret", source["secret"]["secretName"]) if "secret" in source else ("ConfigMap", source["configMap"]["name"])
                wanted["ca"] = (kind, name, (source.get("secret") or source.get("configMap"))["items"][0]["key"])
            if "kafka-client-cert" in volumes:
                secret = volumes["kafka-client-cert"]["secret"]
                keys = {item["path"]: item["key"] for item in secret["items"]}
                for parameter, path in (("cert", "tls.crt"), ("key", "tls.key"), ("keyPassword", "key-password")):
                    if path in keys:
                        wanted[parameter] = ("Secret", secret["secretName"], keys[path])
            if not wanted:
                if auth:
                    problems.append("ScaledObject: a TriggerAuthentication although the consumer needs no credentials")
                continue
            if not auth:
                problems.append(f"ScaledObject: no TriggerAuthentication, the consumer uses {sorted(wanted)}")
                continue
            auth_spec = by_name[("TriggerAuthentication", auth["name"])]["spec"]
            got = {ref["parameter"]: ("Secret", ref["name"], ref["key"]) for ref in auth_spec.get("secretTargetRef", [])}
            got.update({ref["parameter"]: ("ConfigMap", ref["name"], ref["key"]) for ref in auth_spec.get("configMapTargetRef", [])})
            if got != wanted:
                problems.append(f"TriggerAuthentication {auth['name']}: parameters {got}, the consumer pods use {wanted}")
            for kind, name, key in got.values():
                rendered = by_name.get((kind, name))
                if rendered is not None and key not in rendered.get("data", {}) and key not in rendered.get("stringData", {}):
                    problems.append(f"TriggerAuthentication {auth['name']}: {kind} {name} has no key {key}")
    return problems


@pytest.mark.parametrize("values_file", scenarios(), ids=lambda path: path.stem)
def test_chart_policy(values_file: Path) -> None:
    """Workload policy."""
    values = merged_values(scenario_values(values_file))
    objects = rendered_objects(scenario_values(values_file))
    kinds: dict[str, list[dict[str, Any]]] = {}
    for obj in objects:
        kinds.setdefault(obj["kind"], []).append(obj)
    by_name = {(o["kind"], o["metadata"]["name"]): o for o in objects}
    deployments = {o["metadata"]["labels"]["app.kubernetes.io/component"]: o for o in kinds.get("Deployment", [])}
    expected_deployments = {"gateway", "consumer"} | ({"lag-exporter"} if values["lagExporter"]["enabled"] else set())
    require(set(deployments) == expected_deployments, f"deployments: {sorted(deployments)}, expected {sorted(expected_deployments)}")
    workloads = list(deployments.values()) + kinds.get("Job", [])
    problems: list[str] = []

    def expect(cond: Any, msg: str) -> None:
        if not cond:
            problems.append(msg)

    for wl in workloads:
        name = f"{wl['kind']}/{wl['metadata']['name']}"
        spec = pod_spec(wl)
        psc = spec.get("securityContext", {})
        expect(psc.get("runAsNonRoot") is True, f"{name}: pod not runAsNonRoot")
        expect(psc.get("seccompProfile", {}).get("type") == "RuntimeDefault", f"{name}: no RuntimeDefault seccomp profile")
        expect(spec.get("automountServiceAccountToken") is False, f"{name}: mounts a service account token")
        for container in spec["containers"]:
            cname = f"{name} container {container['name']}"
            sc = container.get("securityContext", {})
            expect(sc.get("readOnlyRootFilesystem") is True, f"{cname}: root filesystem writable")
            expect(sc.get("allowPrivilegeEscalation") is False, f"{cname}: privilege escalation allowed")
            expect("ALL" in sc.get("capabilities", {}).get("drop", []), f"{cname}: capabilities not dropped")
            res = container.get("resources", {})
            expect({"cpu", "memory"} <= set(res.get("requests", {})), f"{cname}: missing cpu/memory requests")
            expect("memory" in res.get("limits", {}), f"{cname}: missing memory limit")
            image = container["image"]
            expect("@sha256:" in image or (":" in image.split("/")[-1] and not image.endswith(":latest")), f"{cname}: unpinned image {image}")
            for source in container.get("envFrom", []):
                ref = source.get("configMapRef", {}).get("name")
                expect(("ConfigMap", ref) in by_name, f"{cname}: envFrom ConfigMap {ref} is not rendered")
            for env in container.get("env", []):
                ref = env.get("valueFrom", {}).get("secretKeyRef")
                if ref:
                    external = {values["database"]["existingSecret"], values["gateway"]["config"]["redis"]["existingSecret"]} - {""}
                    expect(ref["name"] in external or ("Secret", ref["name"]) in by_name, f"{cname}: Secret {ref['name']} missing")
                    expect(env["name"] in SECRET_URL_VARIABLES, f"{cname}: secret {env['name']} in an environment variable")
            # Secrets reach the binaries as read-only files, never as variables.
            variables = container_env(container, by_name)
            plain = PLAIN_SECRET_VARIABLES & variables.keys()
            expect(not plain, f"{cname}: secret passed as a plain variable {sorted(plain)}")
            for variable, value in variables.items():
                if variable.endswith(("_FILE", "_LOCATION")) and value:
                    problem = mounted_file(spec, container, value)
                    expect(problem is None, f"{cname}: {variable}: {problem}")
            url = database_url_of(container, by_name)
            if url and url_query(url).get("sslrootcert"):
                problem = mounted_file(spec, container, url_query(url)["sslrootcert"])
                expect(problem is None, f"{cname}: database sslrootcert: {problem}")
            for mount in container.get("volumeMounts", []):
                volume = next((v for v in spec.get("volumes", []) if v["name"] == mount["name"]), None)
                expect(volume is not None, f"{cname}: mount {mount['name']} has no volume")
                if volume and ("secret" in volume or "configMap" in volume):
                    expect(mount.get("readOnly") is True, f"{cname}: {mount['mountPath']} is mounted writable")
        for volume in spec.get("volumes", []):
            for kind, field, key in (("Secret", "secret", "secretName"), ("ConfigMap", "configMap", "name")):
                if field in volume:
                    ref = volume[field][key]
                    expect(ref in external_objects(values)[kind] or (kind, ref) in by_name,
                           f"{name}: volume {volume['name']}: {kind} {ref} is neither rendered nor named in the values")

    # Gateway: probes, graceful shutdown, scaling, spreading.
    gateway = deployments["gateway"]
    gspec = pod_spec(gateway)
    gcont = gspec["containers"][0]
    ports = {p["name"]: p["containerPort"] for p in gcont["ports"]}
    expect(ports.get("http") == 8080, "gateway: container port http/8080 missing")
    expect(gcont["readinessProbe"]["httpGet"]["path"] == "/readyz", "gateway: readiness probe is not /readyz")
    expect(gcont["livenessProbe"]["httpGet"]["path"] == "/healthz", "gateway: liveness probe is not /healthz")
    sleep = gcont.get("lifecycle", {}).get("preStop", {}).get("sleep", {}).get("seconds")
    expect(isinstance(sleep, int) and sleep > 0, "gateway: no preStop sleep")
    grace = gspec.get("terminationGracePeriodSeconds", 30)
    genv = container_env(gcont, by_name)
    drain = int(genv.get("LEADPIPE_DRAIN_SECS") or GATEWAY_DEFAULT_DRAIN_SECS)
    shutdown = int(genv.get("LEADPIPE_SHUTDOWN_TIMEOUT_SECS") or GATEWAY_DEFAULT_SHUTDOWN_TIMEOUT_SECS)
    expect(isinstance(sleep, int) and grace >= sleep + drain + shutdown + FLUSH_MARGIN_SECS,
           f"gateway: grace {grace}s does not cover the {sleep}s preStop + {drain}s drain + {shutdown}s shutdown timeout"
           f" + {FLUSH_MARGIN_SECS}s producer flush")
    expect(gateway["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] in (0, "0", "0%"), "gateway: rolling update may drop capacity")
    hpas = kinds.get("HorizontalPodAutoscaler", [])
    if values["gateway"]["autoscaling"]["enabled"]:
        expect("replicas" not in gateway["spec"], "gateway: replicas set although the HPA owns them")
        expect(len(hpas) == 1 and hpas[0]["spec"]["scaleTargetRef"]["name"] == gateway["metadata"]["name"], "gateway: HPA does not target it")
        metrics = hpas[0]["spec"]["metrics"] if hpas else []
        expect(any(m["type"] == "Resource" and m["resource"]["name"] == "cpu" for m in metrics), "gateway: HPA not on CPU")
    else:
        expect(gateway["spec"].get("replicas") == values["gateway"]["replicaCount"], "gateway: replicas not set")
        expect(not hpas, "gateway: HPA rendered although disabled")
    if values["gateway"]["topologySpread"]["enabled"] and not values["gateway"]["topologySpreadConstraints"]:
        keys = {c["topologyKey"] for c in gspec.get("topologySpreadConstraints", [])}
        expect("topology.kubernetes.io/zone" in keys, "gateway: not spread across zones")

    problems += gateway_abuse_problems(values, gspec, gcont, by_name)

    # Consumer: probes, KEDA or fixed replicas.
    consumer = deployments["consumer"]
    ccont = pod_spec(consumer)["containers"][0]
    expect(ccont["readinessProbe"]["httpGet"]["path"] == "/readyz", "consumer: readiness probe is not /readyz")
    expect(ccont["livenessProbe"]["httpGet"]["path"] == "/healthz", "consumer: liveness probe is not /healthz")
    expect(ccont.get("args") in (None, [], ["run"]), f"consumer: args {ccont.get('args')}")
    scaled = kinds.get("ScaledObject", [])
    if values["keda"]["enabled"]:
        expect("replicas" not in consumer["spec"], "consumer: replicas set although KEDA owns them")
        expect(len(scaled) == 1, "consumer: no ScaledObject")
    else:
        expect(consumer["spec"].get("replicas") == values["consumer"]["replicaCount"], "consumer: fixed replicas not set")
        expect(not scaled, "consumer: ScaledObject rendered although keda.enabled is false")
        expect(not kinds.get("TriggerAuthentication"), "TriggerAuthentication rendered although keda.enabled is false")
    problems += keda_security_problems(kinds, by_name, consumer, values)
    cenv = container_env(ccont, by_name)
    stall = values["consumer"]["config"].get("stallTimeoutMs")  # null values are dropped by the merge
    if stall is None:
        expect("LEADPIPE_STALL_TIMEOUT_MS" not in cenv, "consumer: LEADPIPE_STALL_TIMEOUT_MS set although consumer.config.stallTimeoutMs is null")
    else:
        expect(cenv.get("LEADPIPE_STALL_TIMEOUT_MS") == str(stall), f"consumer: LEADPIPE_STALL_TIMEOUT_MS is {cenv.get('LEADPIPE_STALL_TIMEOUT_MS')!r}, expected {stall}")
        session = int(cenv.get("LEADPIPE_KAFKA_SESSION_TIMEOUT_MS") or CONSUMER_DEFAULT_SESSION_TIMEOUT_MS)
        expect(stall >= session, f"consumer: stall timeout {stall} ms below the session timeout {session} ms (the binary would raise it)")

    # Lag exporter: the consumer image in `lag-exporter` mode, one replica, exactly the
    # consumer's Kafka connection (variables, Secrets, CA, client certificate, group and
    # topic) and nothing of the database.
    exporter = deployments.get("lag-exporter")
    if exporter is not None:
        espec = pod_spec(exporter)
        econt = espec["containers"][0]
        eenv = container_env(econt, by_name)
        expect(econt.get("args") == ["lag-exporter"], f"lag exporter: args {econt.get('args')}, expected [lag-exporter]")
        expect(econt["image"] == ccont["image"], "lag exporter: not the consumer image")
        expect(exporter["spec"].get("replicas") == 1, f"lag exporter: {exporter['spec'].get('replicas')} replicas, expected 1")
        expect(econt["readinessProbe"]["httpGet"]["path"] == "/readyz", "lag exporter: readiness probe is not /readyz")
        expect(econt["livenessProbe"]["httpGet"]["path"] == "/healthz", "lag exporter: liveness probe is not /healthz")
        expect({p["name"]: p["containerPort"] for p in econt.get("ports", [])}.get("http-metrics") == 9091,
               "lag exporter: container port http-metrics/9091 missing")

        def connection(env: dict[str, str | None]) -> dict[str, str | None]:
            return {k: v for k, v in env.items() if k.startswith("LEADPIPE_KAFKA_") and k != "LEADPIPE_KAFKA_SESSION_TIMEOUT_MS"
                    or k in ("LEADPIPE_TOPIC", "LEADPIPE_GROUP_ID")}

        expect(connection(eenv) == connection(cenv),
               f"lag exporter: Kafka connection, topic or group differ from the consumer's: {connection(eenv)} vs {connection(cenv)}")

        def kafka_files(spec: dict[str, Any]) -> tuple[list[Any], list[Any]]:
            volumes = sorted((v for v in spec.get("volumes", []) if v["name"].startswith("kafka-")), key=lambda v: v["name"])
            mounts = sorted((m for m in spec["containers"][0].get("volumeMounts", []) if m["name"].startswith("kafka-")),
                            key=lambda m: m["name"])
            return volumes, mounts

        expect(kafka_files(espec) == kafka_files(pod_spec(consumer)), "lag exporter: Kafka Secret/CA volumes or mounts differ from the consumer's")
        database = sorted({k for k in eenv if k.startswith("LEADPIPE_DATABASE")} |
                          {v["name"] for v in espec.get("volumes", []) if v["name"].startswith("database-")})
        expect(not database, f"lag exporter: needs no database, but gets {database}")

    # Environment variables are the ones the binaries read (the lag exporter is the consumer binary).
    for component, deployment in deployments.items():
        cm_name = pod_spec(deployment)["containers"][0]["envFrom"][0]["configMapRef"]["name"]
        env_names = set(by_name[("ConfigMap", cm_name)]["data"]) | {e["name"] for e in pod_spec(deployment)["containers"][0].get("env", [])}
        contract = ENV_CONTRACT["consumer" if component == "lag-exporter" else component]
        unknown = {n for n in env_names if n.startswith("LEADPIPE_") or n == "RUST_LOG"} - contract
        expect(not unknown, f"{component}: unknown environment variables {sorted(unknown)}")
        expect(all(isinstance(v, str) for v in by_name[("ConfigMap", cm_name)]["data"].values()), f"{component}: non-string ConfigMap values")

    consent = {c: by_name[("ConfigMap", pod_spec(d)["containers"][0]["envFrom"][0]["configMapRef"]["name"])]["data"].get("LEADPIPE_REQUIRE_CONSENT")
               for c, d in deployments.items() if c in ("gateway", "consumer")}
    expect(consent["gateway"] == consent["consumer"] is not None, f"gateway and consumer disagree on consent: {consent}")

    # Services, PDBs and the Ingress point at what exists.
    for svc in kinds.get("Service", []):
        matched = [d for d in deployments.values() if labels_match(svc["spec"]["selector"], d["spec"]["template"]["metadata"]["labels"])]
        expect(len(matched) == 1, f"Service {svc['metadata']['name']} selects {len(matched)} deployments")
        for port in svc["spec"]["ports"]:
            names = {p["name"] for d in matched for p in pod_spec(d)["containers"][0]["ports"]}
            expect(port["targetPort"] in names, f"Service {svc['metadata']['name']}: targetPort {port['targetPort']} unknown")
    for pdb in kinds.get("PodDisruptionBudget", []):
        matched = [d for d in deployments.values() if labels_match(pdb["spec"]["selector"]["matchLabels"], d["spec"]["template"]["metadata"]["labels"])]
        expect(len(matched) == 1, f"PDB {pdb['metadata']['name']} selects {len(matched)} deployments")
    expect({p["metadata"]["labels"]["app.kubernetes.io/component"] for p in kinds.get("PodDisruptionBudget", [])} == {"gateway", "consumer"},
           "a PodDisruptionBudget per component expected")
    for ing in kinds.get("Ingress", []):
        for rule in ing["spec"]["rules"]:
            for path in rule["http"]["paths"]:
                backend = path["backend"]["service"]
                svc = by_name.get(("Service", backend["name"]))
                expect(svc and any(p["port"] == backend["port"]["number"] for p in svc["spec"]["ports"]),
                       f"Ingress backend {backend} is not the gateway Service")

    # Migrations: a pre-install/pre-upgrade hook that can read its Secret.
    jobs = kinds.get("Job", [])
    # The chart renders two Secrets at most: the database URL (a hook, for the migration Job)
    # and the gateways' hash secret from gateway.config.hashSecret.value (a regular object).
    database_secrets = [o for o in kinds.get("Secret", []) if o["__template"].endswith("/database-secret.yaml")]
    other_secrets = sorted(o["__template"] for o in kinds.get("Secret", []) if o not in database_secrets
                           and not o["__template"].endswith("/gateway/hash-secret.yaml"))
    expect(not other_secrets, f"Secrets rendered by {other_secrets}")
    if values["migrations"]["enabled"]:
        expect(len(jobs) == 1, "no migration Job")
        for job in jobs:
            hooks = set(job["metadata"]["annotations"].get("helm.sh/hook", "").split(","))
            expect(hooks == {"pre-install", "pre-upgrade"}, f"migration Job hooks are {hooks}")
            container = pod_spec(job)["containers"][0]
            expect(container.get("args") == ["migrate"], "migration Job does not run `migrate`")
            expect(container["image"] == ccont["image"], "migration Job does not use the consumer image")
            expect(pod_spec(job)["restartPolicy"] == "Never", "migration Job restarts in place")
            job_weight = int(job["metadata"]["annotations"].get("helm.sh/hook-weight", "0"))
            unknown = {e["name"] for e in container.get("env", [])} - ENV_CONTRACT["consumer"]
            expect(not unknown, f"migration Job: unknown environment variables {sorted(unknown)}")
            url_sources = [next((e.get("valueFrom") for e in c.get("env", []) if e["name"] == "LEADPIPE_DATABASE_URL"), None)
                           for c in (container, ccont)]
            expect(url_sources[0] is not None and url_sources[0] == url_sources[1], "migration Job and consumer use different database URLs")
            for secret in database_secrets:
                ann = secret["metadata"]["annotations"]
                expect("pre-install" in ann.get("helm.sh/hook", "") and int(ann.get("helm.sh/hook-weight", "0")) < job_weight,
                       "the database Secret is not created before the migration hook")
    else:
        expect(not jobs, "migration Job rendered although disabled")
    if values["database"]["existingSecret"]:
        expect(not database_secrets, "a database Secret is rendered although database.existingSecret is set")
    require(not problems, "\n".join(problems))


def gateway_abuse_problems(values: dict[str, Any], spec: dict[str, Any], container: dict[str, Any],
                           by_name: dict[tuple[str, str], dict[str, Any]]) -> list[str]:
    """gateway.config's abuse protection reaches the gateway as the binary reads it: rate limits,
    trusted proxies, Redis (URL from the ConfigMap or a Secret) with its hash secret as a
    mounted file, honeypot, CAPTCHA with its secret key as a mounted file."""
    config = values["gateway"]["config"]
    env = container_env(container, by_name)
    problems: list[str] = []

    def want(variable: str, expected: str | None) -> None:
        if env.get(variable) != expected:
            problems.append(f"gateway: {variable} is {env.get(variable)!r}, gateway.config says {expected!r}")

    for limit in ("ip", "email", "phone"):
        # Always set: an empty email or phone limit turns off what the binary's default turns on.
        want(f"LEADPIPE_RATE_LIMIT_{limit.upper()}", config["rateLimit"][limit])
    slots = config.get("rateLimitSlots")  # null values are dropped by the merge
    want("LEADPIPE_RATE_LIMIT_SLOTS", None if slots is None else str(slots))
    want("LEADPIPE_TRUSTED_PROXIES", ",".join(config["trustedProxies"]) or None)
    want("LEADPIPE_HONEYPOT_FIELD", config["honeypotField"] or None)

    redis = config["redis"]
    redis_on = bool(redis["url"] or redis["existingSecret"])
    url_from_secret = next((e["valueFrom"]["secretKeyRef"] for e in container.get("env", [])
                            if e["name"] == "LEADPIPE_REDIS_URL" and "secretKeyRef" in e.get("valueFrom", {})), None)
    if redis["existingSecret"]:
        if url_from_secret != {"name": redis["existingSecret"], "key": redis["urlKey"]}:
            problems.append(f"gateway: LEADPIPE_REDIS_URL from {url_from_secret}, expected key {redis['urlKey']} of Secret {redis['existingSecret']}")
    else:
        want("LEADPIPE_REDIS_URL", redis["url"] or None)
        if url_from_secret is not None:
            problems.append("gateway: LEADPIPE_REDIS_URL from a Secret although gateway.config.redis.existingSecret is empty")
    if re.match(r"^[a-z][-+.a-z0-9]*://[^/?#]*@", env.get("LEADPIPE_REDIS_URL") or "", re.IGNORECASE):
        problems.append("gateway: credentials in LEADPIPE_REDIS_URL of the ConfigMap")
    timeout = redis.get("timeoutMs")
    want("LEADPIPE_REDIS_TIMEOUT_MS", str(timeout) if redis_on and timeout is not None else None)

    # The hash secret: a file of the existing Secret or of the one the chart creates from the value.
    hash_secret = config["hashSecret"]
    path = env.get("LEADPIPE_HASH_SECRET_FILE")
    if redis_on and not path:
        problems.append("gateway: Redis without LEADPIPE_HASH_SECRET_FILE (the gateway refuses to start)")
    if bool(path) != bool(hash_secret["existingSecret"] or hash_secret["value"]):
        problems.append(f"gateway: LEADPIPE_HASH_SECRET_FILE is {path!r} with gateway.config.hashSecret {hash_secret}")
    if path:
        volume = next((v for v in spec.get("volumes", []) if v["name"] == "hash-secret"), {})
        secret = volume.get("secret", {})
        if secret.get("items") != [{"key": hash_secret["key"], "path": Path(path).name}]:
            problems.append(f"gateway: hash secret volume items {secret.get('items')}, expected key {hash_secret['key']} as {Path(path).name}")
        if hash_secret["existingSecret"]:
            if secret.get("secretName") != hash_secret["existingSecret"]:
                problems.append(f"gateway: hash secret from {secret.get('secretName')}, expected {hash_secret['existingSecret']}")
        else:
            rendered = by_name.get(("Secret", secret.get("secretName")), {})
            if rendered.get("stringData", {}).get(hash_secret["key"]) != hash_secret["value"]:
                problems.append(f"gateway: Secret {secret.get('secretName')} does not hold gateway.config.hashSecret.value")

    # The proof of consent: the accepted text versions, and the address hash key as a file.
    consent = config["consent"]
    want("LEADPIPE_CONSENT_TEXT_VERSIONS", ",".join(consent["textVersions"]) or None)
    key = consent["ipHashKey"]
    path = env.get("LEADPIPE_IP_HASH_KEY_FILE")
    volume = next((v for v in spec.get("volumes", []) if v["name"] == "ip-hash-key"), {})
    if key["existingSecret"]:
        wanted = {"secretName": key["existingSecret"], "defaultMode": 0o444,
                  "items": [{"key": key["key"], "path": Path(path or "").name}]}
        if not path or volume.get("secret") != wanted:
            problems.append(f"gateway: address hash key file {path!r} from {volume.get('secret')}, expected {wanted}")
    elif path or volume:
        problems.append("gateway: LEADPIPE_IP_HASH_KEY_FILE set although gateway.config.consent.ipHashKey.existingSecret is empty")

    captcha = config["captcha"]
    if captcha["verifyUrl"]:
        want("LEADPIPE_CAPTCHA_VERIFY_URL", captcha["verifyUrl"])
        want("LEADPIPE_CAPTCHA_TIMEOUT_MS", str(captcha["timeoutMs"]))
        want("LEADPIPE_CAPTCHA_FAIL_OPEN", str(captcha["failOpen"]).lower())
        path = env.get("LEADPIPE_CAPTCHA_SECRET_FILE") or ""
        volume = next((v for v in spec.get("volumes", []) if v["name"] == "captcha-secret"), {})
        wanted = {"secretName": captcha["secret"]["existingSecret"], "defaultMode": 0o444,
                  "items": [{"key": captcha["secret"]["key"], "path": Path(path).name}]}
        if not path or volume.get("secret") != wanted:
            problems.append(f"gateway: CAPTCHA secret file {path!r} from {volume.get('secret')}, expected {wanted}")
    else:
        present = sorted(k for k in env if k.startswith("LEADPIPE_CAPTCHA_"))
        if present:
            problems.append(f"gateway: {present} set although gateway.config.captcha.verifyUrl is empty")
    return problems


def test_chart_gateway_abuse() -> None:
    """ci/abuse-values.yaml renders Redis (URL in the ConfigMap), the hash secret the chart creates
    and the CAPTCHA; without a hash secret the same values are refused, as the gateway would refuse them."""
    helm = helm_module()
    values_file = CHART_CI_VALUES / "abuse-values.yaml"
    raw = scenario_values(values_file)
    config = raw["gateway"]["config"]
    require(config["redis"]["url"] and config["hashSecret"]["value"] and config["captcha"]["verifyUrl"],
            f"{values_file.name} must set gateway.config.redis.url, hashSecret.value and captcha.verifyUrl")
    objects = rendered_objects(raw)
    by_name = {(o["kind"], o["metadata"]["name"]): o for o in objects}
    gateway = next(o for o in objects if o["kind"] == "Deployment" and o["metadata"]["labels"]["app.kubernetes.io/component"] == "gateway")
    spec = pod_spec(gateway)
    problems = gateway_abuse_problems(merged_values(raw), spec, spec["containers"][0], by_name)
    secrets = [o for o in objects if o["kind"] == "Secret" and o["__template"].endswith("/gateway/hash-secret.yaml")]
    if len(secrets) != 1 or "helm.sh/hook" in secrets[0]["metadata"]["annotations"]:
        problems.append(f"{len(secrets)} hash secret Secrets rendered, expected one regular (not hook) Secret")
    require(not problems, "\n".join(problems))
    for label, drop in (("url", "hashSecret"), ("existingSecret", "hashSecret")):
        broken = copy.deepcopy(raw)
        if label == "existingSecret":
            broken["gateway"]["config"]["redis"] = {"url": "", "existingSecret": "leadpipe-redis"}
        del broken["gateway"]["config"][drop]
        try:
            render(broken)
        except helm.HelmError as error:
            require("gateway.config.redis needs gateway.config.hashSecret" in str(error),
                    f"redis.{label} without a hash secret refused for another reason:\n{error}")
        else:
            raise CheckFailed(f"the chart accepted gateway.config.redis.{label} without gateway.config.hashSecret")
