"""Which frames of a track the camera embeds: its first ``embed_first_frames``, then every
``embed_every_frames`` (the real ByteTrack on a scripted, still box)."""

from __future__ import annotations

import numpy as np
import pytest

from mcvision.capture.pipeline import CameraPipeline
from mcvision.config import ConfigError, parse_config
from mcvision.types import Detections, Frame

T0 = 1_764_000_000.0
FPS = 5.0


def embedded_frames(first: int, every: int, frames: int = 16) -> list[int]:
    """The track's frames (1 = its first) whose crops the pipeline asks to embed."""
    cfg = parse_config(
        {
            "site_id": "c",
            "cameras": [{"id": "cam", "source": "x.mp4", "fps": FPS}],
            "identity": {"embed_first_frames": first, "embed_every_frames": every},
        }
    )
    pipe = CameraPipeline(cfg.cameras[0], cfg)
    box = Detections(
        xyxy=np.array([[40, 40, 80, 200]], np.float32), confidence=np.array([0.9], np.float32)
    )
    image = np.zeros((240, 320, 3), np.uint8)
    out, n = [], 0
    for i in range(frames):
        step = pipe.step(Frame("cam", i, T0 + i / FPS, image), box)
        if len(step.tracked):
            n += 1
            if step.due:
                out.append(n)
    return out


@pytest.mark.parametrize(
    ("first", "every", "expected"),
    [
        (1, 10, [1, 11]),  # the default: on track start, then every 10 frames
        (3, 5, [1, 2, 3, 8, 13]),  # each of the first 3, then every 5 after the last
        (2, 10, [1, 2, 12]),
    ],
)
def test_a_track_is_embedded_on_its_first_frames_then_every_k(
    first: int, every: int, expected: list[int]
) -> None:
    assert embedded_frames(first, every) == expected


def test_embed_first_frames_must_be_positive() -> None:
    with pytest.raises(ConfigError, match="embed_first_frames"):
        parse_config(
            {
                "site_id": "c",
                "cameras": [{"id": "cam", "source": "x.mp4"}],
                "identity": {"embed_first_frames": 0},
            }
        )
