"""Ray Serve deployments, the Serve application and the HTTP API."""
