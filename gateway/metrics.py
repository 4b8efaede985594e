"""Prometheus metrics, one registry per application so tests and processes never share counters."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "clearway_http_requests",
            "HTTP requests answered, by route template and status.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "clearway_http_request_duration_seconds",
            "Time to answer an HTTP request, by route template.",
            ["method", "route"],
            registry=self.registry,
        )
        self.claims_received = Counter(
            "clearway_claims_received",
            "Claims accepted for processing, by claim type and channel.",
            ["claim_type", "channel"],
            registry=self.registry,
        )
        self.intake_rejections = Counter(
            "clearway_intake_rejections",
            "Submissions refused at intake, by reason.",
            ["channel", "reason"],
            registry=self.registry,
        )

        self.jobs = Gauge(
            "clearway_jobs",
            "Jobs in the queue by state (ready, running, dead) and lease_overdue: running jobs "
            "whose lease ran out, not yet taken over (their worker died or is stuck). Read at "
            "each scrape.",
            ["state"],
            registry=self.registry,
        )

        self.refused_bodies = Gauge(
            "clearway_refused_bodies",
            "Refused submissions kept (bad JSON, unreadable X12): whole, or cut to their first "
            "64 KB once their submitter passed server.refused_kept_bytes. Read at each scrape.",
            ["kept"],
            registry=self.registry,
        )
        self.refused_bytes = Gauge(
            "clearway_refused_body_bytes",
            "Bytes of refused submissions kept, all submitters. Read at each scrape.",
            registry=self.registry,
        )

    def render(self) -> bytes:
        return generate_latest(self.registry)
