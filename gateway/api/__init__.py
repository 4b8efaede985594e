"""The HTTP API under /v1, plus health, readiness and metrics endpoints."""
