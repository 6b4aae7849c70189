"""Model wrappers (no Ray): detector, segmenter, ReID, pose, face, weights."""
