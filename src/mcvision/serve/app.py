"""The Serve application of a site: the HTTP ingress holding the model deployments.

In the Ray Serve style: an ingress deployment (:class:`ApiIngress`) is bound
with handles to the model deployments; it serves the FastAPI app of
:mod:`mcvision.serve.api`, whose live routes (occupancy, cameras, reset,
batch metrics) ask the site's IdentityActor and the model deployments.
"""

from __future__ import annotations

from typing import Any

import ray
from ray import serve
from ray.serve.deployment import Application

from mcvision.actors.identity import camera_actor_name, identity_actor_name
from mcvision.config import SiteConfig
from mcvision.serve.deployments import INGRESS_CPUS, model_deployments


class RayLive:
    """Live state for the API, read from the IdentityActor and the model deployments."""

    def __init__(self, site_id: str, models: dict[str, Any]) -> None:
        self.site_id = site_id
        self.models = models
        self._cams: dict[str, Any] = {}  # camera actor handles: no name lookup per frame

    def _identity(self) -> Any:
        return ray.get_actor(identity_actor_name(self.site_id))

    def occupancy(self) -> dict[str, Any]:
        return ray.get(self._identity().occupancy.remote(), timeout=10)

    def cameras(self) -> dict[str, dict[str, Any]]:
        return ray.get(self._identity().cameras.remote(), timeout=10)

    def reset(self, ts: float | None = None) -> int:
        return ray.get(self._identity().reset.remote(ts), timeout=30)

    def mark_staff(self, global_id: str) -> int:
        return ray.get(self._identity().mark_staff.remote(global_id), timeout=60)

    def erase_customer(self, customer_id: str) -> dict[str, Any]:
        return ray.get(self._identity().erase_customer.remote(customer_id), timeout=120)

    def newest_frame(self, camera_id: str, after_seq: int = -1) -> Any:
        """The camera actor's newest processed frame (a LiveFrame), or None (none yet, or
        still frame ``after_seq``: the frame does not cross again)."""
        actor = self._cams.get(camera_id)
        if actor is None:
            try:
                actor = ray.get_actor(camera_actor_name(self.site_id, camera_id))
            except ValueError:  # not started yet, or gone
                return None
            self._cams[camera_id] = actor
        try:
            return ray.get(actor.newest_frame.remote(after_seq), timeout=5)
        except (ray.exceptions.RayError, TimeoutError):
            self._cams.pop(camera_id, None)  # look it up again next time (restarted?)
            return None

    def global_ids(self, camera_id: str, local_ids: list[int]) -> dict[int, str]:
        return ray.get(self._identity().global_ids.remote(camera_id, local_ids), timeout=5)

    def mirror_status(self) -> dict[str, Any] | None:
        return ray.get(self._identity().mirror_status.remote(), timeout=10)

    def batch_stats(self) -> dict[str, Any]:
        return {
            name: handle.batch_stats.remote().result(timeout_s=10)
            for name, handle in self.models.items()
        }


@serve.deployment(name="Api", ray_actor_options={"num_cpus": INGRESS_CPUS})
@serve.ingress()
class ApiIngress:
    """HTTP ingress: the FastAPI app, built on the replica, with the model handles."""

    def __init__(self, cfg: SiteConfig, **models: Any) -> None:
        self.cfg = cfg
        self.models = models

    def __serve_build_asgi_app__(self) -> Any:
        from mcvision.serve.api import create_app

        return create_app(self.cfg, live=RayLive(self.cfg.site_id, self.models))


def build_app(cfg: SiteConfig) -> Application:
    """The whole Serve application of a site, ready for ``serve.run``."""
    return ApiIngress.bind(cfg, **model_deployments(cfg))
