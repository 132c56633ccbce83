"""A latency histogram for the hot path of both services, exported through prometheus-client.

prometheus-client's ``Histogram.observe`` scans every bucket and takes two locks (about 0.7 µs
here); a governed call observes three stages, so each service keeps its own counts and hands
them to the registry only when ``/metrics`` is read. Observed from the event loop's thread only
(no lock): the policy worker thread never observes.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterator, Sequence

from prometheus_client.core import HistogramMetricFamily
from prometheus_client.registry import Collector

__all__ = ["LATENCY_BUCKETS", "LatencyHistogram"]

# From a fraction of a millisecond (a decision from the cache) to the forwarding timeout.
LATENCY_BUCKETS = (0.0002, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class _Series:
    __slots__ = ("_bounds", "counts", "sum")

    def __init__(self, bounds: Sequence[float]) -> None:
        self._bounds = bounds
        self.counts = [0] * (len(bounds) + 1)  # the last one is +Inf
        self.sum = 0.0

    def observe(self, seconds: float) -> None:
        self.counts[bisect_left(self._bounds, seconds)] += 1  # bucket ``le``: the first bound >= seconds
        self.sum += seconds


class LatencyHistogram(Collector):
    """One histogram metric, one series per value of an optional label (fixed when built)."""

    def __init__(
        self, name: str, documentation: str, *, label: str | None = None, values: Sequence[str] = (),
        buckets: Sequence[float] = LATENCY_BUCKETS,
    ) -> None:
        self._name, self._documentation, self._label = name, documentation, label
        self._bounds = tuple(buckets)
        self._series = {value: _Series(self._bounds) for value in (values if label is not None else ("",))}

    def series(self, value: str = "") -> _Series:
        return self._series[value]

    def collect(self) -> Iterator[HistogramMetricFamily]:
        family = HistogramMetricFamily(
            self._name, self._documentation, labels=[self._label] if self._label is not None else None
        )
        edges = [*(repr(bound) for bound in self._bounds), "+Inf"]
        for value, series in self._series.items():
            running, buckets = 0, []
            for edge, count in zip(edges, series.counts, strict=True):
                running += count
                buckets.append((edge, running))
            family.add_metric([value] if self._label is not None else [], buckets, series.sum)
        yield family
