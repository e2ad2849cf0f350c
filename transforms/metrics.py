"""One namespace for every counter, so the run summary can find them all."""

from __future__ import annotations

from collections.abc import Iterator

import apache_beam as beam
from apache_beam.metrics import Metrics
from apache_beam.metrics.metric import Metrics as _Metrics

from transforms.records import Failure

NAMESPACE = "newsbeam"
FAILURE_PREFIX = "failure:"


def counter(name: str) -> _Metrics.DelegatingCounter:
    """The counter ``name`` in the newsbeam namespace."""
    return Metrics.counter(NAMESPACE, name)


def distribution(name: str) -> _Metrics.DelegatingDistribution:
    return Metrics.distribution(NAMESPACE, name)


def failure_counter_name(failure: Failure) -> str:
    """``failure:<stage>/<error_type>``: one counter per reason, read by the run summary."""
    return f"{FAILURE_PREFIX}{failure.stage}/{failure.error_type}"


class CountFailures(beam.DoFn):
    """Passes failures through, counting each by stage and error type."""

    def process(self, failure: Failure) -> Iterator[Failure]:
        counter(failure_counter_name(failure)).inc()
        yield failure
