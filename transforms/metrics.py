"""One namespace for every counter, so the run summary can find them all."""

from __future__ import annotations

from apache_beam.metrics import Metrics
from apache_beam.metrics.metric import Metrics as _Metrics

NAMESPACE = "newsbeam"


def counter(name: str) -> _Metrics.DelegatingCounter:
    """The counter ``name`` in the newsbeam namespace."""
    return Metrics.counter(NAMESPACE, name)


def distribution(name: str) -> _Metrics.DelegatingDistribution:
    return Metrics.distribution(NAMESPACE, name)
