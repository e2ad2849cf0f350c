"""The run summary: Beam counters of the ``newsbeam`` namespace, per stage."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from apache_beam.metrics.metric import MetricsFilter
from apache_beam.runners.runner import PipelineResult

from transforms.metrics import FAILURE_PREFIX, NAMESPACE

ENTRY_FAILURES = ("invalid_entries", "fetch_failures", "extract_failures", "backfill_invalid_lines")


def counters_of(metrics: Any) -> dict[str, int]:
    """Every counter of the namespace in ``metrics`` (a runner's ``MetricResults``), summed over
    steps (committed where the runner has it)."""
    totals: dict[str, int] = defaultdict(int)
    for counter in metrics.query(MetricsFilter().with_namespace(NAMESPACE))["counters"]:
        value = counter.committed if counter.committed is not None else counter.attempted
        totals[counter.key.metric.name] += int(value or 0)
    return dict(totals)


def read_counters(result: PipelineResult) -> dict[str, int]:
    """The counters of a finished (or cancelled) job."""
    return counters_of(result.metrics())


@dataclass(frozen=True)
class Summary:
    counters: Mapping[str, int]

    def get(self, name: str) -> int:
        return int(self.counters.get(name, 0))

    @property
    def duplicates(self) -> int:
        return self.get("duplicates_url") + self.get("duplicates_canonical")

    @property
    def entry_failures(self) -> int:
        return sum(self.get(name) for name in ENTRY_FAILURES)

    @property
    def failures(self) -> int:
        # Entity failures annotate an article that is still written: not an entry lost.
        return self.entry_failures + self.get("feed_failures") + self.get("entity_failures")

    @property
    def accounted(self) -> bool:
        """Every entry ended as an article row, a counted duplicate or a failure row."""
        return (
            self.get("entries") == self.get("rows_written_articles") + self.duplicates + self.entry_failures
        )

    @property
    def failure_reasons(self) -> dict[str, int]:
        """``stage/error_type`` → count, most frequent first."""
        reasons = {
            name[len(FAILURE_PREFIX) :]: int(count)
            for name, count in self.counters.items()
            if name.startswith(FAILURE_PREFIX) and count
        }
        return dict(sorted(reasons.items(), key=lambda item: (-item[1], item[0])))

    @property
    def languages(self) -> str:
        """How the language column was decided: ``confirmed 150, detected 3, …``."""
        prefix = "language_"
        counts = {
            name[len(prefix) :]: int(count)
            for name, count in self.counters.items()
            if name.startswith(prefix) and count
        }
        return ", ".join(f"{reason} {count}" for reason, count in sorted(counts.items(), key=lambda i: -i[1]))

    def render(self, output: str) -> str:
        g = self.get
        reasons = ", ".join(f"{reason} {count}" for reason, count in self.failure_reasons.items())
        lines = [
            "newsbeam run summary",
            f"  feeds polled        {g('feeds_polled'):>7}   (not modified {g('feeds_not_modified')}, "
            f"failed {g('feed_failures')})",
            f"  entries             {g('entries'):>7}   (listed before: {g('entries_already_seen')})",
            f"  fetched             {g('fetched'):>7}",
            f"  extracted           {g('extracted'):>7}",
            f"  duplicates dropped  {self.duplicates:>7}   (same URL {g('duplicates_url')}, "
            f"same canonical URL {g('duplicates_canonical')})",
            f"  failures            {self.failures:>7}   (feed {g('feed_failures')}, "
            f"entry {g('invalid_entries') + g('backfill_invalid_lines')}, fetch {g('fetch_failures')}, "
            f"extract {g('extract_failures')}, entities {g('entity_failures')})",
            f"  failure reasons     {reasons or 'none'}",
            f"  near-duplicates     {g('near_duplicates') + g('exact_duplicates'):>7}   (marked duplicate_of, "
            f"still written: exact copies {g('exact_duplicates')})",
            f"  stories             {g('stories_started') + g('stories_no_blocking_keys'):>7} started   (joined an earlier article "
            f"{g('stories_joined')})",
            f"  keyed state         {g('keyed_timer_sets'):>7} timer sets   (late arrivals "
            f"{g('keyed_late_arrivals')}, late edges {g('keyed_late_edges')})",
            f"  languages           {self.languages or 'none detected'}",
            f"  entities            {g('entities_tagged'):>7} articles tagged   (no model for the "
            f"language {g('entities_no_model')}, text capped {g('entities_text_capped')})",
            f"  rows written        {g('rows_written_articles'):>7} articles, "
            f"{g('rows_written_failures')} failures in {g('files_written')} files",
            f"  output              {output}",
            "  accounting          "
            + (
                "every entry is an article, a duplicate or a failure"
                if self.accounted
                else "MISMATCH: entries != articles + duplicates + entry failures"
            ),
        ]
        return "\n".join(lines)
