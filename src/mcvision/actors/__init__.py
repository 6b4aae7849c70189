"""Ray actors: thin shells over the identity core and the camera pipeline."""
