"""Per-camera tracking and zone/line geometry."""
