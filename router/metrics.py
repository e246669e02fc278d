"""Prometheus metrics, owned by the application (a registry per app, no module-level globals)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class Metrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.tickets_routed = Counter(
            "hotline_tickets_routed_total",
            "New tickets by hotline and resulting state",
            ["hotline", "outcome"],
            registry=r,
        )
        self.intake_duplicates = Counter(
            "hotline_intake_duplicates_total", "Redelivered or re-sent intake ignored", registry=r
        )
        self.intake_rejected = Counter(
            "hotline_intake_rejected_total",
            "Intake rejected to the dead-letter queue",
            ["reason"],
            registry=r,
        )
        self.feedback = Counter(
            "hotline_feedback_total",
            "Feedback messages by action and outcome",
            ["action", "outcome"],
            registry=r,
        )
        self.publish_failures = Counter(
            "hotline_publish_failures_total",
            "Publishes that failed and were left to the outbox relay",
            registry=r,
        )
        self.relay_republished = Counter(
            "hotline_outbox_republished_total", "Messages re-published by the outbox relay", registry=r
        )
        self.timers_fired = Counter(
            "hotline_timers_fired_total", "Timers fired by kind", ["kind"], registry=r
        )
        self.batch_seconds = Histogram(
            "hotline_intake_batch_seconds",
            "Time to process one intake batch",
            registry=r,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
        )
        self.ready = Gauge("hotline_ready", "1 when broker and database are reachable", registry=r)
