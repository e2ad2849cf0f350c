from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from transforms.backfill import InvalidLine, parse_line
from transforms.records import FetchedPage, PreExtracted

NOW = datetime(2025, 6, 20, tzinfo=UTC)


def test_text_line_becomes_pre_extracted() -> None:
    line = json.dumps(
        {
            "url": "https://ex.org/a.html?utm_source=x",
            "publisher": "Ex",
            "published_at": "2025-06-17T08:30:00+02:00",
            "title": "A",
            "text": "Body text",
        }
    )
    record = parse_line(line, NOW)
    assert isinstance(record, PreExtracted)
    assert record.entry.url == "https://ex.org/a.html"
    assert record.entry.publisher == "Ex"
    assert record.entry.published_at == datetime(2025, 6, 17, 6, 30, tzinfo=UTC)
    assert record.entry.first_seen_at == NOW
    assert record.extracted.title == "A"
    assert record.extracted.text == "Body text"


def test_html_line_becomes_fetched_page() -> None:
    record = parse_line(json.dumps({"url": "https://ex.org/a", "html": "<p>é</p>", "title": "t"}), NOW)
    assert isinstance(record, FetchedPage)
    assert record.body == "<p>é</p>".encode()
    assert record.final_url == "https://ex.org/a"


def test_first_seen_at_can_be_given() -> None:
    line = json.dumps({"url": "https://ex.org/a", "text": "x", "first_seen_at": "2025-06-18T00:00:00Z"})
    assert parse_line(line, NOW).entry.first_seen_at == datetime(2025, 6, 18, tzinfo=UTC)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("not json", "not JSON"),
        ("[1, 2]", "JSON object"),
        ('{"text": "x"}', "'url' is required"),
        ('{"url": "ftp://ex.org/a", "text": "x"}', "http(s)"),
        ('{"url": "https://ex.org/a"}', "needs 'html' or 'text'"),
        ('{"url": "https://ex.org/a", "text": 3}', "must be a string"),
        ('{"url": "https://ex.org/a", "text": "x", "published_at": "last week"}', "ISO 8601"),
    ],
)
def test_invalid_lines_say_why(line: str, message: str) -> None:
    with pytest.raises(InvalidLine, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_line(line, NOW)


def test_a_brief_given_as_text_is_an_article_and_short_html_is_not() -> None:
    """A user who hands over a text has decided it is an article: no min_words floor for it."""
    import apache_beam as beam

    from transforms.extract import ExtractSettings, _ExtractFn
    from transforms.records import Article, Failure

    brief = "Flooding closed the coast road on Monday. It reopened in the evening."
    extract = _ExtractFn(ExtractSettings(min_words=50))
    extract.setup()
    given = parse_line(
        json.dumps({"url": "https://ex.org/brief", "title": "Road closed", "text": brief}), NOW
    )
    [article] = list(extract.process(given))
    assert isinstance(article, Article)
    assert (article.title, article.text, article.word_count) == ("Road closed", brief, 12)
    page = parse_line(
        json.dumps({"url": "https://ex.org/brief", "html": f"<html><body><p>{brief}</p></body></html>"}), NOW
    )
    [refused] = list(extract.process(page))
    assert isinstance(refused, beam.pvalue.TaggedOutput)
    assert isinstance(refused.value, Failure) and refused.value.error_type == "too_short"
