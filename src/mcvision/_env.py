"""Process environment for mcvision: offline model hubs and CPU threads.

Imported first by :mod:`mcvision` so every entry point (CLI, tests, Ray
workers) gets the same settings before torch or Ultralytics are imported.
Values already set by the user win.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

#: Project-local folder for Ultralytics settings (never the user's home).
YOLO_CONFIG_DIR = (
    Path(os.environ.get("MCVISION_CACHE", Path.home() / ".cache" / "mcvision")) / "ultralytics"
)


def _threads() -> int:
    return max(1, os.cpu_count() or 1)


def apply() -> None:
    """Set offline, telemetry and thread variables (idempotent)."""
    env = os.environ
    env.setdefault("YOLO_OFFLINE", "1")
    env.setdefault("YOLO_AUTOINSTALL", "False")
    env.setdefault("YOLO_VERBOSE", "False")
    env.setdefault("YOLO_CONFIG_DIR", str(YOLO_CONFIG_DIR))
    env.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    env.setdefault("HF_HUB_OFFLINE", "1")
    env.setdefault("TORCH_HOME", str(Path(env["YOLO_CONFIG_DIR"]).parent / "torch"))
    # ultralytics forces OMP_NUM_THREADS=1 when unset: set it to the core count first.
    env.setdefault("OMP_NUM_THREADS", str(_threads()))
    cfg = Path(env["YOLO_CONFIG_DIR"])
    try:
        cfg.mkdir(parents=True, exist_ok=True)
        font = cfg / "Arial.ttf"
        if not font.exists():
            _copy_font(font)
    except OSError:
        pass


def _copy_font(dest: Path) -> None:
    """Ultralytics plotting downloads Arial.ttf when missing: give it a local font."""
    try:
        import matplotlib

        src = Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf"
    except Exception:
        return
    if src.exists():
        shutil.copyfile(src, dest)


def set_torch_threads(n: int | None = None) -> int:
    """Give torch (and Ultralytics' own cap) ``n`` threads; call in the thread that infers.

    Only where they are loaded already: a process that runs no torch model (an ONNX
    embedder) never pays the seconds of importing it.
    """
    import sys

    n = n or int(os.environ.get("OMP_NUM_THREADS", _threads()))
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.set_num_threads(n)
    torch_utils = sys.modules.get("ultralytics.utils.torch_utils")
    if torch_utils is not None:
        torch_utils.NUM_THREADS = n
    return n


def lower_priority(nice: int) -> int:
    """Make this process ``nice`` steps nicer (once); returns the niceness now.

    Camera and identity actors are niced so that, on a machine they share with the
    model replicas, the detector — the pipeline's bottleneck — gets the CPU first and
    they run in its gaps.
    """
    current = os.nice(0)
    if nice > current:
        try:
            return os.nice(nice - current)
        except OSError:  # not allowed here: keep running as is
            return current
    return current
