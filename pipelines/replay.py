"""``newsbeam failures replay``: failed entries back through the pipeline.

The failures table keeps the URL of every entry that could not be fetched or extracted; this
reads them (filtered by stage, error type and date), and the run re-queues them as feed entries:
URL dedup, fetch, extraction and the rest, exactly as if a feed had just listed them.  Failure
rows are history and stay; an entry that fails again gets a new row.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from pipelines.query import connect
from transforms.records import FeedEntry, FeedSpec
from transforms.urls import InvalidUrl, domain_of, normalize_url

# Stages whose failures are entries worth fetching again (feed failures are retried by
# polling; an entity failure's article was written).
REPLAYABLE = ("fetch", "extract")


def failed_entries(
    output: str,
    stages: tuple[str, ...] = REPLAYABLE,
    error_type: str | None = None,
    day: date | None = None,
    feeds: list[FeedSpec] | None = None,
    now: datetime | None = None,
) -> list[FeedEntry]:
    """One ``FeedEntry`` per distinct failed URL matching the filters, oldest failure first."""
    query = (
        'SELECT url, any_value(feed_url) AS feed_url, min("at") AS first FROM failures '
        "WHERE url IS NOT NULL AND list_contains(?, stage) "
        "AND (CAST(? AS VARCHAR) IS NULL OR error_type = ?) "
        "AND (CAST(? AS DATE) IS NULL OR date = ?) "
        "GROUP BY url ORDER BY first, url"
    )
    rows = connect(output).sql(query, params=[list(stages), error_type, error_type, day, day]).fetchall()
    publishers = {spec.url: spec for spec in feeds or []}
    seen_at = now or datetime.now(UTC)
    entries = []
    for url, feed_url, _ in rows:
        try:
            normalized = normalize_url(url)
        except InvalidUrl:
            continue
        spec = publishers.get(feed_url)
        entries.append(
            FeedEntry(
                link=url,
                url=normalized,
                feed_url=feed_url,
                publisher=spec.publisher if spec else domain_of(normalized),
                first_seen_at=seen_at,
                language=spec.language if spec else None,
            )
        )
    return entries
