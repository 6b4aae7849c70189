"""Run a site on Ray: start (or join) Ray, deploy Serve, start the actors, stop cleanly.

:class:`SiteRunner` is what ``mcvision run`` drives:

1. ``ray.init()`` — a light local cluster by default (sized to what the site
   asks for), or an existing cluster's address;
2. a resource check *before* anything is deployed: asking Ray for more CPUs or
   GPUs than the cluster has would make ``serve.run`` wait forever;
3. ``serve.run`` of the site's application (API ingress + model deployments),
   HTTP on ``runtime.api_host:api_port`` (127.0.0.1 by default);
4. the IdentityActor, then one CameraActor per camera;
5. on :meth:`stop` (Ctrl-C) or when every file source has ended: cameras stop,
   their last updates are drained, open visits are closed at their last
   sighting and flushed, Serve and (when we started it) Ray shut down.
"""

from __future__ import annotations

import logging
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import ray
from ray import serve
from ray.exceptions import ActorDiedError, ActorUnavailableError, RayActorError

from mcvision.actors.camera import CameraActor
from mcvision.actors.identity import IdentityActor, camera_actor_name, identity_actor_name
from mcvision.config import SiteConfig
from mcvision.serve.app import build_app
from mcvision.serve.deployments import APP_NAME, required_resources

log = logging.getLogger(__name__)

RESTART_WAIT_S = 120.0  # how long a restarting camera actor is waited for


class ResourceError(RuntimeError):
    """The cluster cannot hold what the site asks for."""


def check_resources(needed: dict[str, float], available: dict[str, float]) -> None:
    """Raise :class:`ResourceError` naming each resource that falls short."""
    short = [
        f"{k}: needs {v:g}, cluster has {available.get(k, 0):g}"
        for k, v in needed.items()
        if v > 0 and available.get(k, 0) + 1e-9 < v
    ]
    if short:
        raise ResourceError(
            "not enough resources for this site's deployments and actors ("
            + "; ".join(short)
            + "). Lower runtime.*.num_cpus/num_gpus or replicas, or add nodes."
        )


def init_ray(cfg: SiteConfig, address: str | None = None) -> bool:
    """Start or join Ray. Returns True when this process started a local cluster."""
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    if ray.is_initialized():
        return False
    if address:
        ray.init(address=address, logging_level=logging.WARNING)
        return False
    need = required_resources(cfg)
    # Logical CPUs: at least the machine's, and enough for every actor (they mostly wait).
    cpus = max(os.cpu_count() or 1, int(need["CPU"]) + 1)
    # Short: Unix socket paths must stay under 107 characters.
    temp = Path(os.environ.get("MCVISION_RAY_TMP") or Path(tempfile.gettempdir()) / "mcv-ray")
    ray.init(
        num_cpus=cpus,
        include_dashboard=False,
        _node_ip_address="127.0.0.1",
        object_store_memory=512 * 1024 * 1024,
        _temp_dir=str(temp),
        logging_level=logging.WARNING,
        configure_logging=True,
        # Worker logs reach the terminal only on request: camera problems are reported
        # through the IdentityActor and printed by the CLI.
        log_to_driver=os.environ.get("MCVISION_RAY_LOGS", "") == "1",
        runtime_env={"env_vars": {"RAY_USAGE_STATS_ENABLED": "0"}},
    )
    return True


class SiteRunner:
    """Runs one site until its files end or it is stopped.

    Args:
        cfg: the site.
        address: a Ray cluster address (``auto``, ``ray://...``); None starts a local one.
        start_ts: epoch seconds of the first frame of file sources (default: now).
    """

    def __init__(
        self, cfg: SiteConfig, address: str | None = None, start_ts: float | None = None
    ) -> None:
        self.cfg = cfg
        self.address = address
        self.start_ts = start_ts if start_ts is not None else time.time()
        self.own_ray = False
        self.identity: Any = None
        self.cameras: dict[str, Any] = {}
        self.runs: dict[str, Any] = {}
        self.results: dict[str, dict[str, Any]] = {}
        self.restarts: dict[str, int] = {}  # camera actor deaths Ray recovered from
        self._down_since: dict[str, float] = {}
        self._stopped = False

    @property
    def api_url(self) -> str:
        rt = self.cfg.runtime
        return f"http://{rt.api_host}:{rt.api_port}"

    def start(self) -> None:
        from mcvision.serve.auth import check_bind

        check_bind(self.cfg.api, self.cfg.runtime.api_host)  # before Ray: a clear, early refusal
        self.own_ray = init_ray(self.cfg, self.address)
        try:
            check_resources(required_resources(self.cfg), ray.cluster_resources())
            rt = self.cfg.runtime
            serve.start(http_options={"host": rt.api_host, "port": rt.api_port})
            serve.run(
                build_app(self.cfg),
                name=APP_NAME,
                route_prefix="/",
                blocking=False,
                logging_config={"enable_access_log": False, "log_level": "WARNING"},
            )
            name = identity_actor_name(self.cfg.site_id)
            self.identity = IdentityActor.options(name=name, num_cpus=0.1).remote(self.cfg)
            ray.get(self.identity.ready.remote())
            for cam in self.cfg.cameras:
                # SPREAD: on a cluster, cameras go to different nodes (decode is CPU work).
                actor = CameraActor.options(
                    name=camera_actor_name(self.cfg.site_id, cam.id),
                    num_cpus=rt.camera_num_cpus,
                    scheduling_strategy="SPREAD",
                    resources=dict(rt.camera_resources) or None,
                ).remote(self.cfg, cam.id, self.start_ts, name, APP_NAME)
                self.cameras[cam.id] = actor
                self.runs[cam.id] = actor.run.remote()
        except BaseException:
            self.shutdown()
            raise

    def camera_stats(self) -> dict[str, dict[str, Any]]:
        if self.identity is None:
            return {}
        return ray.get(self.identity.cameras.remote(), timeout=30)

    def wait(
        self,
        until_end: bool = True,
        on_progress: Callable[[dict[str, dict[str, Any]]], None] | None = None,
        poll_s: float = 0.5,
        timeout_s: float | None = None,
    ) -> None:
        """Block until every *file* camera ends (``until_end``), or until interrupted.

        Live cameras never end by themselves; with ``until_end`` they are stopped by
        :meth:`stop` once the files are done.
        """
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        live = {c.id for c in self.cfg.cameras if c.is_live}
        pending = dict(self.runs)
        while True:
            if pending:
                done, _ = ray.wait(list(pending.values()), num_returns=len(pending), timeout=poll_s)
                for cam_id, ref in list(pending.items()):
                    if ref in done:
                        try:
                            self.results[cam_id] = ray.get(ref)
                            self._down_since.pop(cam_id, None)
                        except RayActorError as err:
                            if self._rerun(cam_id, err):
                                pending[cam_id] = self.runs[cam_id]
                                continue
                            self.results[cam_id] = {"camera_id": cam_id, "error": str(err)}
                        del pending[cam_id]
            else:
                time.sleep(poll_s)
            if on_progress is not None:
                on_progress(self.camera_stats())
            if until_end and not (set(pending) - live):
                return
            if deadline is not None and time.monotonic() > deadline:
                raise TimeoutError(f"cameras still running after {timeout_s} s: {sorted(pending)}")

    def _rerun(self, cam_id: str, err: Exception) -> bool:
        """A camera actor's run failed: if Ray is restarting it, wait on the new one.

        ``ActorDiedError`` means Ray gave up (``max_restarts`` spent): the camera is
        reported failed. While the actor is restarting, calls fail fast with
        ``ActorUnavailableError``: they are re-issued (every 0.5 s, for up to
        ``RESTART_WAIT_S``). The restarted actor starts its loop by itself; ``run``
        joins it.
        """
        if isinstance(err, ActorDiedError) and not isinstance(err, ActorUnavailableError):
            log.error("camera %s actor is dead for good: %s", cam_id, err)
            return False
        now = time.monotonic()
        first = self._down_since.setdefault(cam_id, now)
        if now - first > RESTART_WAIT_S:
            log.error("camera %s did not come back in %.0f s: %s", cam_id, RESTART_WAIT_S, err)
            return False
        if now == first:
            self.restarts[cam_id] = self.restarts.get(cam_id, 0) + 1
            log.warning("camera %s actor died (%s); waiting on its restart", cam_id, err)
        else:
            time.sleep(0.5)
        self.runs[cam_id] = self.cameras[cam_id].run.remote()
        return True

    def stop(self) -> dict[str, Any]:
        """Stop cameras, drain and close the identity core (flushes), shut everything down."""
        if self._stopped:
            return {}
        self._stopped = True
        summary: dict[str, Any] = {}
        try:
            for actor in self.cameras.values():
                actor.stop.remote()
            for cam_id, ref in self.runs.items():
                if cam_id not in self.results:
                    try:
                        self.results[cam_id] = ray.get(ref, timeout=60)
                    except Exception as err:  # a dead camera must not block the flush
                        self.results[cam_id] = {"camera_id": cam_id, "error": str(err)}
            if self.identity is not None:
                summary = ray.get(self.identity.close.remote(), timeout=120)
        finally:
            self._kill_actors()
            self.shutdown()
        summary["cameras"] = self.results
        return summary

    def _kill_actors(self) -> None:
        """Free the actors at once (and the identity's name, for the next run of the site)."""
        for actor in [*self.cameras.values(), self.identity]:
            if actor is not None and ray.is_initialized():
                try:
                    ray.kill(actor, no_restart=True)
                except Exception:  # already gone
                    log.debug("actor already gone", exc_info=True)

    def shutdown(self) -> None:
        try:
            if ray.is_initialized():
                serve.shutdown()
        except Exception:
            log.exception("serve shutdown failed")
        if self.own_ray and ray.is_initialized():
            ray.shutdown()
