"""Frame capture: sources (files, streams, webcams, folders) and the per-camera pipeline."""
