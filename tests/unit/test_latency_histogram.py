"""sentinel_http.LatencyHistogram exports exactly what prometheus-client's Histogram would."""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry, Histogram, generate_latest

from sentinel_http import LATENCY_BUCKETS, LatencyHistogram

OBSERVED = [0.0, 0.0001, 0.0002, 0.00021, 0.003, 0.003, 1.0, 29.9, 30.0, 31.0, 1e9]


def _without_created(text: bytes) -> list[str]:
    return [line for line in text.decode().splitlines() if "_created" not in line]


@pytest.mark.parametrize("label", [None, "stage"])
def test_the_same_observations_give_the_same_exposition(label: str | None) -> None:
    ours, theirs = CollectorRegistry(), CollectorRegistry()
    histogram = LatencyHistogram("x_seconds", "doc", label=label, values=("a", "b"))
    ours.register(histogram)
    reference = Histogram("x_seconds", "doc", [label] if label else [], registry=theirs, buckets=LATENCY_BUCKETS)
    for value in OBSERVED:
        (histogram.series("a") if label else histogram.series()).observe(value)
        (reference.labels("a") if label else reference).observe(value)
    if label:
        reference.labels("b")
    assert _without_created(generate_latest(ours)) == _without_created(generate_latest(theirs))
