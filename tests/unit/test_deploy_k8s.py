"""Static checks of deploy/k8s, deploy/helm and deploy/grafana against each other and against the code.

Schema validation uses `kubernetes-validate` (the Kubernetes OpenAPI schemas, offline) when installed; the
structural checks below always run. What the code knows comes from tests/unit/test_deploy_static.py.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Iterator

import pytest
from prometheus_client import CollectorRegistry

from casework import metrics
from tests.unit.test_deploy_static import (
    DEPLOY, ROOT, code_default, dockerfile_instructions, entry_file, in_build_context, known_env_names,
    served_paths,
)

yaml = pytest.importorskip("yaml")

K8S = DEPLOY / "k8s"
HELM_VALUES = DEPLOY / "helm" / "temporal-values.yaml"
DASHBOARD = DEPLOY / "grafana" / "referral-dashboard.json"
IMAGE = "buleleng-referral"
KUBERNETES_VERSION = "1.30.0"  # the oldest release still commonly run that has every API used here
SECRET_SETTINGS = {"DATABASE_URL", "REFERRAL_PII_KEY", "REFERRAL_HASH_SALT", "REFERRAL_CSRF_SECRET",
                   "REFERRAL_SMTP_PASSWORD", "REFERRAL_WEBHOOK_SECRET", "TEMPORAL_API_KEY"}
# Each named container port is the value of one setting.
PORT_SETTINGS = {"http": "REFERRAL_API_PORT", "health": "REFERRAL_HEALTH_PORT",
                 "metrics-sdk": "REFERRAL_METRICS_PORT", "metrics-app": "REFERRAL_APP_METRICS_PORT"}
# The SDK's Prometheus names, as temporalio 1.35's runtime serves them (histograms in milliseconds).
SDK_HISTOGRAMS = {"temporal_workflow_task_schedule_to_start_latency", "temporal_workflow_task_execution_latency",
                  "temporal_workflow_task_replay_latency", "temporal_workflow_endtoend_latency",
                  "temporal_activity_schedule_to_start_latency", "temporal_activity_execution_latency",
                  "temporal_activity_succeed_endtoend_latency", "temporal_local_activity_execution_latency",
                  "temporal_local_activity_succeed_endtoend_latency", "temporal_request_latency",
                  "temporal_long_request_latency"}
SDK_METRICS = {f"{h}{s}" for h in SDK_HISTOGRAMS for s in ("_bucket", "_count", "_sum")} | {
    "temporal_worker_task_slots_available", "temporal_worker_task_slots_used", "temporal_sticky_cache_size",
    "temporal_sticky_cache_hit", "temporal_num_pollers", "temporal_workflow_completed", "temporal_worker_start",
    "temporal_request", "temporal_long_request", "temporal_activity_task_received",
    "temporal_workflow_task_queue_poll_succeed", "temporal_local_activity_total"}


# ---- loading ----

def load_docs(path: Path) -> list[dict]:
    return [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d is not None]


def kustomization() -> dict:
    return yaml.safe_load((K8S / "kustomization.yaml").read_text(encoding="utf-8"))


def applied() -> list[dict]:
    """What `kubectl apply -k deploy/k8s` applies."""
    return [d for name in kustomization()["resources"] for d in load_docs(K8S / name)]


def every_manifest() -> Iterator[tuple[Path, dict]]:
    for path in sorted([*K8S.glob("*.yaml"), *K8S.glob("optional/*.yaml"), *DEPLOY.glob("helm/*.example.yaml")]):
        if path.name != "kustomization.yaml":
            for doc in load_docs(path):
                yield path, doc


def example_secrets() -> dict[str, dict]:
    return {d["metadata"]["name"]: d for _, d in every_manifest() if d["kind"] == "Secret"}


def of_kind(kind: str, docs: list[dict] | None = None) -> dict[str, dict]:
    return {d["metadata"]["name"]: d for d in (applied() if docs is None else docs) if d["kind"] == kind}


def pod_specs() -> dict[str, dict]:
    return {name: d["spec"]["template"]["spec"] for name, d in {**of_kind("Deployment"), **of_kind("Job")}.items()}


def containers(pod: dict, init: bool = True) -> list[dict]:
    return [*(pod.get("initContainers") or [] if init else []), *pod["containers"]]


def pod_labels(name: str) -> dict[str, str]:
    workloads = {**of_kind("Deployment"), **of_kind("Job")}
    return workloads[name]["spec"]["template"]["metadata"]["labels"]


def selects(selector: dict, labels: dict[str, str]) -> bool:
    return all(labels.get(k) == v for k, v in selector.get("matchLabels", selector).items())


def configmap_data() -> dict[str, str]:
    return {k: str(v) for k, v in of_kind("ConfigMap")["referral-settings"]["data"].items()}


def effective_env(container: dict) -> dict[str, str | None]:
    """Name -> value as the container sees it (None: from a Secret)."""
    env: dict[str, str | None] = {}
    for source in container.get("envFrom") or []:
        if "configMapRef" in source:
            env.update(of_kind("ConfigMap")[source["configMapRef"]["name"]]["data"])
        if "secretRef" in source:
            env.update({k: None for k in example_secrets()[source["secretRef"]["name"]]["stringData"]})
    for item in container.get("env") or []:
        env[item["name"]] = item.get("value") if "valueFrom" not in item else None
    return env


# ---- every manifest ----

def test_kustomization_applies_every_base_file_and_no_example() -> None:
    listed = set(kustomization()["resources"])
    for name in listed:
        assert (K8S / name).is_file(), f"kustomization.yaml lists missing {name}"
    expected = {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml"}
    examples = {n for n in expected if n.endswith(".example.yaml")}
    assert listed == expected - examples, "every base manifest is applied; examples never are"
    assert "secrets.example.yaml" in examples


def test_every_manifest_parses_and_is_named() -> None:
    seen = set()
    for path, doc in every_manifest():
        assert {"apiVersion", "kind", "metadata"} <= set(doc), path
        assert re.fullmatch(r"[a-z0-9]([-a-z0-9.]*[a-z0-9])?", doc["metadata"]["name"]), path
        if path.parent == K8S:  # the base: kustomization.yaml sets the namespace
            assert "namespace" not in doc["metadata"], f"{path.name}: namespace comes from kustomization.yaml"
            key = (doc["kind"], doc["metadata"]["name"])
            assert key not in seen, f"{key} twice"
            seen.add(key)


def test_manifests_match_the_kubernetes_schemas() -> None:
    kubernetes_validate = pytest.importorskip(
        "kubernetes_validate", reason="pip install kubernetes-validate (the Kubernetes schemas, offline)")
    for path, doc in every_manifest():
        if "." in doc["apiVersion"].split("/")[0] and not doc["apiVersion"].startswith(
                ("apps/", "batch/", "autoscaling/", "policy/", "networking.k8s.io/")):
            continue  # a CRD (PodMonitor): no schema in the Kubernetes release
        kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)


# ---- pods ----

def test_one_pinned_image_for_every_container() -> None:
    images = kustomization()["images"]
    assert [i["name"] for i in images] == [IMAGE]
    assert images[0]["newTag"] and images[0]["newTag"] != "latest"
    for name, pod in pod_specs().items():
        for c in containers(pod):
            assert c["image"] == IMAGE, f"{name}/{c['name']}: {c['image']} (the tag is set in kustomization.yaml)"


def test_pods_are_bounded_and_unprivileged() -> None:
    uid = int(next(arg for word, arg in dockerfile_instructions() if word == "USER").split(":")[0])
    for name, pod in pod_specs().items():
        assert pod["securityContext"]["runAsNonRoot"] is True and pod["securityContext"]["runAsUser"] == uid, name
        assert pod["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault", name
        assert pod["automountServiceAccountToken"] is False, name
        for c in containers(pod):
            where = f"{name}/{c['name']}"
            for bound in ("requests", "limits"):
                assert {"cpu", "memory"} <= set(c["resources"][bound]), f"{where}: {bound}"
            sc = c["securityContext"]
            assert sc["allowPrivilegeEscalation"] is False and sc["readOnlyRootFilesystem"] is True, where
            assert sc["capabilities"]["drop"] == ["ALL"], where
            assert any(m["mountPath"] == "/tmp" for m in c["volumeMounts"]), f"{where}: no writable /tmp"


def test_commands_are_files_in_the_image() -> None:
    for name, pod in pod_specs().items():
        for c in containers(pod):
            entry = entry_file(c["command"])
            assert (ROOT / entry).is_file(), f"{name}/{c['name']}: {entry} does not exist"
            assert in_build_context(entry), f"{name}/{c['name']}: the dockerignore leaves {entry} out"


def test_migrations_run_before_any_pod_serves() -> None:
    for name in of_kind("Deployment"):
        inits = pod_specs()[name].get("initContainers") or []
        assert [c["command"][1] for c in inits] == ["deploy/migrate.py"], name


def test_every_environment_variable_is_read_by_the_code() -> None:
    known = known_env_names()
    assert set(configmap_data()) <= known, f"ConfigMap: not read by the code: {set(configmap_data()) - known}"
    for secret in example_secrets().values():
        if secret["metadata"].get("namespace") != "temporal":  # the Temporal chart's, not ours
            assert set(secret["stringData"]) <= known | {"tls.crt", "tls.key", "ca.crt"}, secret["metadata"]
    for name, pod in pod_specs().items():
        for c in containers(pod):
            unknown = set(effective_env(c)) - known
            assert not unknown, f"{name}/{c['name']}: not read by the code: {sorted(unknown)}"


def test_secrets_come_only_from_secrets() -> None:
    assert not SECRET_SETTINGS & set(configmap_data()), "a secret in the ConfigMap"
    for name, pod in pod_specs().items():
        for c in containers(pod):
            for item in c.get("env") or []:
                assert item["name"] not in SECRET_SETTINGS or "valueFrom" in item, f"{name}: literal {item['name']}"


def test_example_secrets_are_placeholders_and_only_examples() -> None:
    for path, doc in every_manifest():
        if doc["kind"] != "Secret":
            continue
        assert path.name.endswith(".example.yaml"), f"{path.name}: a Secret outside an example file"
        assert "data" not in doc, f"{path.name}: base64 `data` cannot be reviewed; use stringData placeholders"
        for key, value in doc["stringData"].items():
            assert "REPLACE" in str(value), f"{path.name}: {key} is not a placeholder"


def test_secret_and_configmap_references_resolve() -> None:
    secrets, configmaps = example_secrets(), of_kind("ConfigMap")
    for name, pod in pod_specs().items():
        for c in containers(pod):
            for source in c.get("envFrom") or []:
                ref = source.get("secretRef") or source.get("configMapRef")
                assert ref["name"] in {**secrets, **configmaps}, f"{name}: {ref['name']}"
            for item in c.get("env") or []:
                ref = (item.get("valueFrom") or {}).get("secretKeyRef")
                if ref:
                    text = (K8S / "secrets.example.yaml").read_text(encoding="utf-8")
                    assert ref["key"] in secrets[ref["name"]]["stringData"] or (
                        ref.get("optional") and ref["key"] in text), f"{name}: {ref['name']}/{ref['key']}"
        for volume in pod.get("volumes") or []:
            if "secret" in volume:
                assert volume["secret"]["secretName"] in secrets, f"{name}: {volume['secret']['secretName']}"


def test_the_registration_job_sees_no_database_or_keys() -> None:
    job = of_kind("Job")["referral-register-search-attributes"]
    pod = job["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["command"][1] == "deploy/register_search_attributes.py"
    assert pod["restartPolicy"] in {"Never", "OnFailure"} and job["spec"]["ttlSecondsAfterFinished"] > 0
    assert not {"DATABASE_URL", "REFERRAL_PII_KEY", "REFERRAL_HASH_SALT"} & set(effective_env(container))


# ---- ports and probes ----

def test_ports_are_the_settings_values() -> None:
    for name, pod in pod_specs().items():
        for c in pod["containers"]:
            env = effective_env(c)
            for port in c.get("ports") or []:
                setting = PORT_SETTINGS[port["name"]]
                value = env.get(setting) or code_default(setting)
                assert value == str(port["containerPort"]), f"{name}: {port['name']} {port['containerPort']} != {setting}={value}"


def test_deployments_have_probes_the_code_answers() -> None:
    for name, pod in pod_specs().items():
        if name not in of_kind("Deployment"):
            continue
        for c in pod["containers"]:
            port_names = {p["name"] for p in c["ports"]}
            for probe in ("livenessProbe", "readinessProbe"):
                get = c[probe]["httpGet"]
                assert get["port"] in port_names, f"{name}: {probe} on unknown port {get['port']}"
                assert get["path"] in served_paths(entry_file(c["command"])), f"{name}: nothing serves {get['path']}"
            assert c["livenessProbe"]["httpGet"]["path"] != c["readinessProbe"]["httpGet"]["path"], name


def test_services_policies_and_autoscalers_point_at_real_pods() -> None:
    deployments = of_kind("Deployment")
    for svc in of_kind("Service").values():
        matched = [n for n in deployments if selects(svc["spec"]["selector"], pod_labels(n))]
        assert matched, f"Service {svc['metadata']['name']} selects no pod"
        ports = {p["name"] for n in matched for c in pod_specs()[n]["containers"] for p in c["ports"]}
        assert {p["targetPort"] for p in svc["spec"]["ports"]} <= ports
    for kind in ("PodDisruptionBudget", "NetworkPolicy"):
        for name, doc in of_kind(kind).items():
            selector = doc["spec"].get("selector") or doc["spec"]["podSelector"]
            matched = [n for n in pod_specs() if selects(selector, pod_labels(n))]
            assert matched, f"{kind} {name} selects no pod"
            for rule in doc["spec"].get("ingress") or []:
                ports = {p["name"] for n in matched for c in pod_specs()[n]["containers"] for p in c.get("ports", [])}
                assert {p["port"] for p in rule["ports"]} <= ports, f"{kind} {name}"
    hpas = of_kind("HorizontalPodAutoscaler")
    optional = of_kind("HorizontalPodAutoscaler", load_docs(K8S / "optional" / "worker-hpa-backlog.yaml"))
    for hpa in [*hpas.values(), *optional.values()]:
        assert hpa["spec"]["scaleTargetRef"]["name"] in deployments
        assert any(m["type"] == "Resource" and m["resource"]["name"] == "cpu" for m in hpa["spec"]["metrics"])
    assert set(hpas) == set(deployments)
    assert any(m["type"] == "External" for m in optional["referral-worker"]["spec"]["metrics"])


# ---- Temporal's Helm chart values ----

@pytest.fixture(scope="module")
def values() -> dict:
    return yaml.safe_load(HELM_VALUES.read_text(encoding="utf-8"))


def web_env(values: dict) -> dict[str, str]:
    return {e["name"]: str(e["value"]) for e in values["web"]["additionalEnv"]}


def test_helm_values_use_the_chart_1x_layout_on_postgres(values: dict) -> None:
    # The keys the 1.x chart refuses (templates/_deprecations.tpl).
    assert not {"cassandra", "elasticsearch", "prometheus", "grafana", "mysql", "postgresql"} & set(values)
    persistence = values["server"]["config"]["persistence"]
    assert not {"default", "visibility"} & set(persistence), "0.x layout: use persistence.datastores"
    assert not {"createDatabase", "setup", "update"} & set(values.get("schema") or {})
    stores = persistence["datastores"]
    for role in ("defaultStore", "visibilityStore"):
        sql = stores[persistence[role]]["sql"]
        assert sql["pluginName"].startswith("postgres12"), role
        assert sql["existingSecret"] and "password" not in sql, f"{role}: passwords come from a Secret"
    assert stores[persistence["visibilityStore"]]["sql"]["databaseName"] == "temporal_visibility"


def test_history_shards_are_chosen_and_explained(values: dict) -> None:
    shards = values["server"]["config"]["persistence"]["numHistoryShards"]
    assert shards > 0 and shards & (shards - 1) == 0, "a power of two"
    text = HELM_VALUES.read_text(encoding="utf-8")
    assert re.search(r"NEVER change", text) and "numHistoryShards" in (DEPLOY / "README.md").read_text()


def test_the_namespace_and_frontend_are_the_workers(values: dict) -> None:
    data = configmap_data()
    namespaces = [n["name"] for n in values["server"]["config"]["namespaces"]["namespace"]]
    assert data["TEMPORAL_NAMESPACE"] in namespaces and values["server"]["config"]["namespaces"]["create"]
    assert data["TEMPORAL_ADDRESS"].startswith("temporal-frontend.temporal.") and data["TEMPORAL_ADDRESS"].endswith(":7233")
    assert web_env(values)["TEMPORAL_DEFAULT_NAMESPACE"] == data["TEMPORAL_NAMESPACE"]


def test_the_web_ui_is_read_only_signed_in_and_decodes_through_the_api(values: dict) -> None:
    env = web_env(values)
    assert env["TEMPORAL_DISABLE_WRITE_ACTIONS"] == "true"
    assert env["TEMPORAL_AUTH_ENABLED"] == "true" and env["TEMPORAL_AUTH_TYPE"] == "oidc"
    assert env["TEMPORAL_AUTH_PROVIDER_URL"].startswith("https://") and env["TEMPORAL_AUTH_CLIENT_ID"]
    assert "TEMPORAL_AUTH_CLIENT_SECRET" not in env, "the client secret comes from additionalEnvSecretName"
    secret = example_secrets()[values["web"]["additionalEnvSecretName"]]
    assert "TEMPORAL_AUTH_CLIENT_SECRET" in secret["stringData"]
    # The codec is the API's /codec, at the URL officers reach the API (REFERRAL_PUBLIC_URL).
    assert env["TEMPORAL_CODEC_ENDPOINT"] == configmap_data()["REFERRAL_PUBLIC_URL"].rstrip("/") + "/codec"
    assert "/codec" in served_paths("api.py")
    assert env["TEMPORAL_CODEC_PASS_ACCESS_TOKEN"] == "true"
    assert env["TEMPORAL_AUTH_PROVIDER_URL"] == configmap_data()["REFERRAL_OIDC_ISSUER"], "one identity provider"
    assert env["TEMPORAL_CORS_ORIGINS"] == configmap_data()["REFERRAL_UI_URL"]


def test_update_and_update_with_start_stay_on(values: dict) -> None:
    dynamic = values["server"]["dynamicConfig"]
    for key in ("frontend.enableUpdateWorkflowExecution", "frontend.enableExecuteMultiOperation"):
        assert dynamic[key] == [{"value": True}], key


def test_placeholders_are_example_domains() -> None:
    # A host someone could own is never a placeholder: only .example (RFC 2606) and in-cluster names.
    for path in [*K8S.rglob("*.yaml"), HELM_VALUES]:
        for host in re.findall(r"https?://([a-z0-9.-]+)", path.read_text(encoding="utf-8")):
            assert host.endswith(".example") or host.endswith(".svc") or host == "go.temporal.io", f"{path.name}: {host}"


# ---- the Grafana dashboard ----

@pytest.fixture(scope="module")
def dashboard() -> dict:
    return json.loads(DASHBOARD.read_text(encoding="utf-8"))


def panels(dashboard: dict) -> list[dict]:
    return [p for p in dashboard["panels"] if p["type"] != "row"]


def test_dashboard_has_a_datasource_variable_used_everywhere(dashboard: dict) -> None:
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource" and variables["datasource"]["query"] == "prometheus"
    for panel in panels(dashboard):
        assert panel["datasource"]["uid"] == "${datasource}", panel["title"]
        for target in panel["targets"]:
            assert target["datasource"]["uid"] == "${datasource}", panel["title"]
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids))


def test_dashboard_uses_only_metrics_that_exist(dashboard: dict) -> None:
    registry = CollectorRegistry()
    metrics.AppMetrics(registry)
    ours = {s.name for family in registry.collect() for s in family.samples} | {
        f.name for f in registry.collect()}
    used = {m for p in panels(dashboard) for t in p["targets"]
            for m in re.findall(r"\b((?:referral|temporal)_[a-z_]+)", t["expr"])}
    for name in used:
        assert name in (ours if name.startswith("referral_") else SDK_METRICS), f"no such metric: {name}"
    wanted = {"referral_cases_opened_total", "referral_escalations_total", "referral_breaches_total",
              "referral_cases_needing_attention", "referral_outbox_backlog",
              "temporal_workflow_task_schedule_to_start_latency_bucket", "temporal_activity_execution_latency_bucket",
              "temporal_local_activity_execution_latency_bucket", "temporal_worker_task_slots_available",
              "temporal_sticky_cache_size"}
    assert wanted <= used, f"panels missing for {sorted(wanted - used)}"


def test_dashboard_latency_units_match_the_sdk(dashboard: dict) -> None:
    for panel in panels(dashboard):
        if any("_latency_bucket" in t["expr"] for t in panel["targets"]):
            assert panel["fieldConfig"]["defaults"]["unit"] == "ms", panel["title"]  # the SDK's histograms are ms


def test_prometheus_scrapes_both_metrics_ports() -> None:
    monitor = load_docs(K8S / "optional" / "podmonitor.yaml")[0]
    assert {e["port"] for e in monitor["spec"]["podMetricsEndpoints"]} == {"metrics-sdk", "metrics-app"}
    text = (DEPLOY / "README.md").read_text(encoding="utf-8")
    assert "metrics-(sdk|app)" in text or "metrics-.*" in text, "the README's scrape config keeps both ports"
