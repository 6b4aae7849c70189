"""Deployment artefacts: the `ray up` configs (validated by Ray itself), the Dockerfiles,
and how model deployments ask the cluster for GPUs and custom resources."""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from ray.autoscaler._private.util import prepare_config, validate_config

from mcvision.config import parse_config
from mcvision.serve.deployments import GPU_SHARE, model_deployments, required_resources

REPO = Path(__file__).resolve().parents[1]


def load(name: str) -> dict[str, Any]:
    return yaml.safe_load((REPO / name).read_text())


@pytest.mark.parametrize("name", ["cluster.yaml", "cluster-onprem.yaml"])
def test_cluster_configs_pass_rays_validation(name: str) -> None:
    raw = load(name)
    validate_config(raw)  # Ray's JSON schema (ray/autoscaler/ray-schema.json) + checks
    prepared = prepare_config(copy.deepcopy(raw))  # what `ray up` does before launching
    validate_config(prepared)
    cmds = " ".join(prepared["setup_commands"])
    assert "constraints.txt" in cmds and "mcvision" in cmds


def test_cloud_cluster_has_a_cpu_head_and_autoscaling_gpu_workers() -> None:
    cfg = prepare_config(copy.deepcopy(load("cluster.yaml")))
    assert cfg["provider"]["type"] == "aws"
    nodes = cfg["available_node_types"]
    head = nodes[cfg["head_node_type"]]
    assert head["resources"]["GPU"] == 0 and head["max_workers"] == 0
    gpu = nodes["gpu_worker"]
    assert gpu["resources"]["GPU"] >= 1 and gpu["resources"]["gpu_node"] == 1
    assert 0 < gpu["min_workers"] < gpu["max_workers"]  # autoscales
    assert cfg["docker"]["worker_image"] != cfg["docker"]["head_image"]


def test_onprem_cluster_uses_the_local_provider() -> None:
    raw = load("cluster-onprem.yaml")
    assert raw["provider"]["type"] == "local"
    assert raw["max_workers"] == len(raw["provider"]["worker_ips"])
    assert any("gpu_node" in c for c in raw["worker_start_ray_commands"])


@pytest.mark.parametrize("name", ["Dockerfile", "Dockerfile.cpu"])
def test_dockerfiles_install_the_pinned_package(name: str) -> None:
    text = (REPO / name).read_text()
    lines = [ln for ln in text.replace("\\\n", " ").splitlines() if ln and not ln.startswith("#")]
    instructions = [ln.split()[0] for ln in lines if not ln.startswith(" ")]
    assert instructions[0] == "FROM"
    assert set(instructions) <= {
        "FROM",
        "ENV",
        "RUN",
        "WORKDIR",
        "COPY",
        "VOLUME",
        "EXPOSE",
        "CMD",
        "ARG",
        "LABEL",
    }
    copies = " ".join(ln for ln in lines if ln.startswith("COPY"))
    assert "pyproject.toml" in copies and "constraints.txt" in copies
    assert re.search(r"pip install[^\n]*-c constraints\.txt", text)
    for src in re.findall(r"^COPY (.+) \S+$", text, re.M):
        for part in src.split():
            assert (REPO / part).exists(), f"{name}: COPY of a missing path {part}"
    base = lines[0].split()[1]
    assert ("cuda" in base) == (name == "Dockerfile")


def site(device: str, **runtime: Any) -> Any:
    return parse_config(
        {
            "site_id": "g",
            "cameras": [{"id": "c", "source": "a.mp4"}],
            "models": {"detector": {"device": device}, "reid": {"device": device}},
            "runtime": runtime,
        }
    )


@pytest.mark.parametrize(
    ("device", "runtime", "gpus", "custom"),
    [
        ("cpu", {}, 0.0, None),
        ("cuda", {}, GPU_SHARE, None),
        ("cuda:1", {}, GPU_SHARE, None),
        ("cuda", {"detector": {"num_gpus": 1}}, 1.0, None),
        ("cpu", {"detector": {"resources": {"gpu_node": 0.01}}}, 0.0, {"gpu_node": 0.01}),
    ],
)
def test_model_deployments_ask_for_gpus_on_cuda(
    device: str, runtime: dict[str, Any], gpus: float, custom: dict[str, float] | None
) -> None:
    cfg = site(device, **runtime)
    apps = model_deployments(cfg)
    actor = apps["Detector"]._bound_deployment.ray_actor_options
    assert actor["num_gpus"] == gpus
    assert actor.get("resources") == custom
    need = required_resources(cfg)
    emb_gpus = GPU_SHARE if device.startswith("cuda") else 0.0
    assert need["GPU"] == pytest.approx(gpus + emb_gpus)
    if custom:
        assert need["gpu_node"] == pytest.approx(0.01)


def test_negative_custom_resources_are_a_config_error() -> None:
    with pytest.raises(Exception, match=r"runtime\.detector\.resources\.gpu_node"):
        site("cpu", detector={"resources": {"gpu_node": -1}})
