"""deploy/: Kubernetes manifests against the official schemas, compose and Alertmanager checks."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from stream_sla.config import ENV_PREFIX, Settings
from stream_sla.gateway.settings import ENV_PREFIX as GATEWAY_PREFIX
from stream_sla.gateway.settings import GatewaySettings

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
COMPOSE = ROOT / "deploy" / "compose" / "docker-compose.yml"
KUBERNETES_VERSION = "1.30.0"
SETTINGS = {ENV_PREFIX + name.upper() for name in Settings.model_fields} | {
    GATEWAY_PREFIX + name.upper() for name in GatewaySettings.model_fields
}


def k8s_documents() -> list[tuple[str, dict[str, Any]]]:
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    found = []
    for name in [*kustomization["resources"], "secret.example.yaml"]:
        for doc in yaml.safe_load_all((K8S / name).read_text()):
            if doc:
                found.append((name, doc))
    return found


@pytest.mark.parametrize("name_and_doc", k8s_documents(), ids=lambda nd: f"{nd[0]}:{nd[1]['kind']}")
def test_kubernetes_manifest_is_valid(name_and_doc: tuple[str, dict[str, Any]]) -> None:
    _, doc = name_and_doc
    if doc["kind"] == "PrometheusRule":
        groups = doc["spec"]["groups"]
        assert {g["name"] for g in groups} >= {"stream-sla.alerts", "stream-sla.slo.alerts"}
        return
    if doc["apiVersion"].startswith("monitoring.coreos.com/"):
        endpoint = doc["spec"]["podMetricsEndpoints"][0]
        assert (endpoint["port"], endpoint["path"]) == ("web", "/metrics")
        assert doc["spec"]["selector"]["matchLabels"] == {
            "app.kubernetes.io/name": doc["metadata"]["name"]
        }
        return
    kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)


def test_statefulset_probes_and_state_volume_per_pod() -> None:
    [sts] = [d for _, d in k8s_documents() if d["kind"] == "StatefulSet"]
    container = sts["spec"]["template"]["spec"]["containers"][0]
    assert container["readinessProbe"]["httpGet"]["path"] == "/ready"
    assert container["livenessProbe"]["httpGet"]["path"] == "/live"
    assert sts["spec"]["volumeClaimTemplates"][0]["metadata"]["name"] == "state"
    assert sts["spec"]["replicas"] <= 6, "more workers than partitions stay idle"


def pod_specs() -> list[tuple[str, dict[str, Any]]]:
    return [
        (f"{name}:{doc['kind']}", doc["spec"]["template"]["spec"])
        for name, doc in k8s_documents()
        if doc["kind"] in ("StatefulSet", "Deployment", "Job", "DaemonSet")
    ]


def test_every_pod_passes_pod_security_restricted() -> None:
    """What the "restricted" Pod Security Standard checks, on every pod and container."""
    specs = pod_specs()
    assert {name for name, _ in specs} >= {"statefulset.yaml:StatefulSet", "topics-job.yaml:Job"}
    for name, spec in specs:
        pod = spec.get("securityContext", {})
        assert pod.get("runAsNonRoot") is True, name
        assert pod.get("seccompProfile") == {"type": "RuntimeDefault"}, name
        for container in spec["containers"] + spec.get("initContainers", []):
            context = container.get("securityContext", {})
            where = f"{name}/{container['name']}"
            assert context.get("allowPrivilegeEscalation") is False, where
            assert context.get("capabilities", {}).get("drop") == ["ALL"], where
            assert context.get("readOnlyRootFilesystem") is True, where


def test_prometheus_rule_groups_pass_promtool(tmp_path: Path) -> None:
    [rule] = [d for _, d in k8s_documents() if d["kind"] == "PrometheusRule"]
    (tmp_path / "rules.yml").write_text(yaml.safe_dump({"groups": rule["spec"]["groups"]}))
    promtool = shutil.which("promtool")
    assert promtool, "promtool is missing: `make install` (deploy/tools.sh) installs it"
    result = subprocess.run(
        [promtool, "check", "rules", str(tmp_path / "rules.yml")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_environment_variable_is_a_real_setting() -> None:
    [configmap] = [d for name, d in k8s_documents() if name == "configmap.yaml"]
    secret = yaml.safe_load((K8S / "secret.example.yaml").read_text())
    compose = yaml.safe_load(COMPOSE.read_text())
    names = set(configmap["data"]) | set(secret["stringData"])
    for service in compose["services"].values():
        names |= set(service.get("environment") or {}) - {"<<"}
    stream_sla = {n for n in names if n.startswith(ENV_PREFIX)}
    assert stream_sla and stream_sla <= SETTINGS, stream_sla - SETTINGS


def test_compose_stack_is_wired_and_bound_to_localhost() -> None:
    compose = yaml.safe_load(COMPOSE.read_text())
    services = compose["services"]
    assert {"kafka", "topics", "worker", "prometheus", "alertmanager", "grafana"} <= set(services)
    for name in ("kafka", "worker", "prometheus", "alertmanager", "grafana"):
        assert "healthcheck" in services[name], name
    assert services["topics"]["depends_on"]["kafka"]["condition"] == "service_healthy"
    assert services["worker"]["depends_on"]["topics"]["condition"] == (
        "service_completed_successfully"
    )
    for name, service in services.items():
        for port in service.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), (name, port)
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("."):
                assert (COMPOSE.parent / source).exists(), (name, source)


def test_alertmanager_config_is_valid_for_amtool() -> None:
    amtool = shutil.which("amtool")
    assert amtool, "amtool is missing: `make install` (deploy/tools.sh) installs it"
    result = subprocess.run(
        [amtool, "check-config", str(ROOT / "deploy" / "alertmanager" / "alertmanager.yml")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    config = yaml.safe_load((ROOT / "deploy" / "alertmanager" / "alertmanager.yml").read_text())
    severities = {route["matchers"][0] for route in config["route"]["routes"]}
    assert severities == {'severity="page"', 'severity="ticket"'}


def test_gateway_deployment_is_valid_and_uses_only_real_settings() -> None:
    docs = [d for d in yaml.safe_load_all((K8S / "gateway.yaml").read_text()) if d]
    secret = yaml.safe_load((K8S / "gateway-secret.example.yaml").read_text())
    for doc in [*docs, secret]:
        kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
    [deployment] = [d for d in docs if d["kind"] == "Deployment"]
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["args"] == ["gateway"]
    assert container["readinessProbe"]["httpGet"]["path"] == "/ready"
    names = {e["name"] for e in container["env"]} | set(secret["stringData"])
    assert names <= SETTINGS, names - SETTINGS
    compose = yaml.safe_load(COMPOSE.read_text())
    assert compose["services"]["gateway"]["command"] == ["gateway"]
    mappings = container["env"][-1]["value"].removeprefix("/app/")
    assert (ROOT / mappings).is_file()


def test_every_service_with_metrics_is_scraped_in_kubernetes_and_compose() -> None:
    """Worker, gateway and notifier: a PodMonitor each, whose job label is the pod's name
    label (so the alerts' job="stream-sla" stays the worker), and a scrape job in compose."""
    monitors = {
        d["spec"]["selector"]["matchLabels"]["app.kubernetes.io/name"]
        for _, d in k8s_documents()
        if d["kind"] == "PodMonitor"
    }
    pods = {
        d["spec"]["template"]["metadata"]["labels"]["app.kubernetes.io/name"]
        for _, d in k8s_documents()
        if d["kind"] in ("StatefulSet", "Deployment")
    }
    assert monitors == pods == {"stream-sla", "stream-sla-gateway", "stream-sla-notifier"}
    scrape = yaml.safe_load((ROOT / "deploy" / "prometheus" / "prometheus.yml").read_text())
    targets = {
        job["job_name"]: job["static_configs"][0]["targets"][0] for job in scrape["scrape_configs"]
    }
    compose = yaml.safe_load(COMPOSE.read_text())["services"]
    for job, service in (
        ("stream-sla", "worker"),
        ("stream-sla-gateway", "gateway"),
        ("stream-sla-notifier", "notifier"),
    ):
        host, port = targets[job].split(":")
        assert host == service and f"127.0.0.1:{port}:{port}" in compose[service]["ports"], job


def test_notifier_deployment_keeps_its_journal_on_a_volume_and_loads_its_routing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from stream_sla.notify.config import load_notifications
    from stream_sla.people import load_people

    docs = [d for d in yaml.safe_load_all((K8S / "notifier.yaml").read_text()) if d]
    [deployment] = [d for d in docs if d["kind"] == "Deployment"]
    [routing] = [d for d in docs if d["kind"] == "ConfigMap"]
    [claim] = [d for d in docs if d["kind"] == "PersistentVolumeClaim"]
    [configmap] = [
        d
        for _, d in k8s_documents()
        if d["kind"] == "ConfigMap" and d["metadata"]["name"] == "stream-sla"
    ]
    spec = deployment["spec"]
    assert spec["replicas"] == 1 and spec["strategy"]["type"] == "Recreate", "run one notifier"
    pod = spec["template"]["spec"]
    [container] = pod["containers"]
    assert container["args"][0] == "notifier"
    volumes = {v["name"]: v for v in pod["volumes"]}
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    state = volumes[mounts[configmap["data"]["STREAM_SLA_DATA_DIR"]]]
    assert state["persistentVolumeClaim"]["claimName"] == claim["metadata"]["name"]
    routing_file = container["args"][container["args"].index("--routing") + 1]
    folder, name = routing_file.rsplit("/", 1)
    assert volumes[mounts[folder]]["configMap"]["name"] == routing["metadata"]["name"]
    for file, text in routing["data"].items():
        (tmp_path / file).write_text(text)
    secret = yaml.safe_load((K8S / "notifier-secret.example.yaml").read_text())
    for variable, value in secret["stringData"].items():
        monkeypatch.setenv(variable, value)
    config = load_notifications(tmp_path / name)
    assert config.people_file is not None and len(load_people(config.people_file)) >= 1
    web = {p["name"]: p["containerPort"] for p in container["ports"]}["web"]
    assert container["args"][container["args"].index("--web-port") + 1] == str(web)
    kubernetes_validate.validate(secret, KUBERNETES_VERSION, strict=True)


def test_compose_notifier_keeps_its_journal_on_a_volume_and_loads_its_routing(
    tmp_path: Path,
) -> None:
    from stream_sla.notify.config import load_notifications
    from stream_sla.people import load_people

    compose = yaml.safe_load(COMPOSE.read_text())
    notifier = compose["services"]["notifier"]
    assert notifier["command"][0] == "notifier"
    mounts = {v.split(":")[1]: v.split(":")[0] for v in notifier["volumes"]}
    assert mounts["/var/lib/stream-sla"] in compose["volumes"], "the journal on a named volume"
    routing_file = notifier["command"][notifier["command"].index("--routing") + 1]
    for target, source in mounts.items():  # the files as the container sees them
        if target.startswith("/etc/stream-sla/"):
            shutil.copy(COMPOSE.parent / source, tmp_path / target.rsplit("/", 1)[1])
    config = load_notifications(tmp_path / routing_file.rsplit("/", 1)[1])
    assert config.people_file is not None and len(load_people(config.people_file)) >= 1
    assert config.channels["mail"].host in compose["services"], "SMTP goes to the mailbox service"


def test_worker_reads_the_notifiers_people_directory_in_kubernetes_and_compose() -> None:
    """Owners' hours (owner_away: follow_owner_hours) come from one people directory: the
    worker's clocks and the notifier's routing must not disagree on who works when."""
    from stream_sla.people import load_people

    [statefulset] = [d for _, d in k8s_documents() if d["kind"] == "StatefulSet"]
    pod = statefulset["spec"]["template"]["spec"]
    [worker] = pod["containers"]
    env = {e["name"]: e.get("value") for e in worker["env"]}
    folder, name = env["STREAM_SLA_PEOPLE_FILE"].rsplit("/", 1)
    mounts = {m["mountPath"]: m["name"] for m in worker["volumeMounts"]}
    volume = {v["name"]: v for v in pod["volumes"]}[mounts[folder]]["configMap"]
    [item] = [i for i in volume["items"] if i["path"] == name]
    [notifier] = [
        d
        for _, d in k8s_documents()
        if d["kind"] == "ConfigMap" and d["metadata"]["name"] == volume["name"]
    ]
    assert item["key"] in notifier["data"], "the notifier's ConfigMap holds that people file"

    compose = yaml.safe_load(COMPOSE.read_text())
    services = compose["services"]
    people = services["worker"]["environment"]["STREAM_SLA_PEOPLE_FILE"]
    worker_mounts = {v.split(":")[1]: v.split(":")[0] for v in services["worker"]["volumes"]}
    notifier_mounts = {v.split(":")[0] for v in services["notifier"]["volumes"]}
    assert worker_mounts[people] in notifier_mounts, "the same file the notifier mounts"
    assert len(load_people(COMPOSE.parent / worker_mounts[people])) >= 1
