"""Readers and writers for public dataset layouts: ReID crop folders (Market-1501 naming)
and per-camera MOT-format ground truth."""
