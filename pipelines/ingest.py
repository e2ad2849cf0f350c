"""The ingestion graph: feeds → URL dedup → fetch → extract → canonical dedup → language →
entities → near-duplicates → stories → Parquet.

Only wiring lives here; every stage is a composite transform in ``transforms/``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import apache_beam as beam

from pipelines.config import JobConfig
from transforms.backfill import ReadBackfill
from transforms.dedup_url import DropSeenUrls
from transforms.entities import TagEntities
from transforms.extract import ExtractArticles
from transforms.feeds import FeedList, PollFeeds, ReplayEntries
from transforms.fetch import FetchPages
from transforms.language import IdentifyLanguage
from transforms.metrics import CountFailures
from transforms.neardup import MarkNearDuplicates
from transforms.records import Article, FeedEntry, FetchedPage, PreExtracted
from transforms.stories import AssignStories
from transforms.write import WriteParquetPartitions

DAY_S = 86400.0


@dataclass(frozen=True)
class RunPlan:
    """How this run gets its input: polling feeds (once or for a while) or a backfill file."""

    output: str
    input_jsonl: str | None = None
    duration_s: float | None = None  # None: poll every feed once; math.inf: until stopped
    reload_feeds: FeedList | None = None  # re-read the feed list on each tick (streaming)
    replay: tuple[FeedEntry, ...] | None = None  # `newsbeam failures replay`: these entries


def _entry_url(entry: FeedEntry) -> str:
    return entry.url


def _record_url(record: FetchedPage | PreExtracted) -> str:
    return record.entry.url


def _canonical_url(article: Article) -> str:
    return article.canonical_url


def build_pipeline(pipeline: beam.Pipeline, config: JobConfig, plan: RunPlan) -> None:
    """Add the ingestion graph to ``pipeline``."""
    ttl_s = config.dedup.url_ttl_days * DAY_S
    lateness_s = config.dedup.url_allowed_lateness_s
    failures = []
    if plan.input_jsonl:
        backfill = pipeline | "Read backfill" >> ReadBackfill(plan.input_jsonl)
        failures.append(backfill.failures)
        pages = backfill.records | "Drop seen URLs" >> DropSeenUrls(_record_url, ttl_s, "url", lateness_s)
    else:
        if plan.replay is not None:
            entries = pipeline | "Replay failed entries" >> ReplayEntries(plan.replay)
        else:
            polled = pipeline | "Poll feeds" >> PollFeeds(
                config.feed_specs(),
                config.http_settings(),
                duration_s=plan.duration_s,
                poll=config.poll_settings(),
                reload=plan.reload_feeds,
                seen_ttl_s=ttl_s,
            )
            failures.append(polled.failures)
            entries = polled.entries
        fresh = entries | "Drop seen URLs" >> DropSeenUrls(_entry_url, ttl_s, "url", lateness_s)
        fetched = fresh | "Fetch pages" >> FetchPages(config.fetch_settings())
        failures.append(fetched.failures)
        pages = fetched.pages
    extracted = pages | "Extract articles" >> ExtractArticles(config.extract_settings())
    failures.append(extracted.failures)
    articles = extracted.articles | "Drop seen canonical URLs" >> DropSeenUrls(
        _canonical_url, ttl_s, "canonical", lateness_s
    )
    # Language and entity tagging (most of the CPU) run between two fusion breaks.  Runners fuse
    # a stateful step with its producer, and the FnApiRunner runs a stage with state on one worker
    # only: without the breaks, tagging was fused into the canonical-URL dedup and the
    # near-duplicate signing, and --direct_num_workers had nothing to spread.  (The second break
    # goes only before a keyed stage: Flink's runner cannot translate a Flatten that reads a
    # Reshuffle directly.)  The first break
    # comes after the canonical-URL dedup, not before extraction: which of two pages with the same
    # canonical URL (an article and its AMP copy) is kept depends on their order of arrival, and
    # a shuffle before the dedup would make that order, and the output, vary from run to run.
    articles = articles | "Spread articles over workers" >> beam.Reshuffle()
    articles = articles | "Identify language" >> IdentifyLanguage(config.language_settings())
    if config.entities.enabled:
        tagged = articles | "Tag entities" >> TagEntities(config.entity_settings())
        failures.append(tagged.failures)
        articles = tagged.articles
    if config.dedup.near_duplicates or config.stories.enabled:
        articles = articles | "Break fusion before keyed stages" >> beam.Reshuffle()
    # Bounded input (one poll, a backfill) reaches the keyed stages in any order: nothing there
    # may be forgotten for being too far behind the newest article of its key.
    bounded = plan.duration_s is None
    if config.dedup.near_duplicates:
        near = config.near_dup_settings()
        near = replace(near, allowed_lateness_s=math.inf) if bounded else near
        articles = articles | "Mark near-duplicates" >> MarkNearDuplicates(near)
    if config.stories.enabled:
        story = config.story_settings()
        story = replace(story, allowed_lateness_hours=math.inf) if bounded else story
        articles = articles | "Assign stories" >> AssignStories(story)
    counted = (
        failures
        | "Merge failures" >> beam.Flatten()
        | "Count failures by reason" >> beam.ParDo(CountFailures())
    )
    _ = (
        [articles, counted]
        | "Merge outputs" >> beam.Flatten()
        | "Write Parquet"
        >> WriteParquetPartitions(plan.output, config.write.batch_size, config.write.max_buffering_s)
    )
