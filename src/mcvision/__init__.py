"""mcvision: multi-camera customer analytics — one ID per person across all cameras, per day."""

from mcvision import _env

_env.apply()

__version__ = "0.1.0"
