"""``newsbeam report``: one self-contained static HTML page about an output directory.

Articles per day and outlet (stacked bars), the top stories with their coverage across
outlets, the top entities over time (a heatmap) and failures by reason. Charts are inline SVG
written here; the page has no script at all and a Content-Security-Policy that forbids scripts,
network fetches and outside resources, so it opens anywhere, offline. Every string from the data
(titles are whatever a crawled page said) is HTML-escaped, and only http(s) URLs become links.
"""

from __future__ import annotations

import html
import math
import os
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from pipelines.query import connect
from pipelines.shortcuts import has_files, run_sql

# Okabe-Ito, colour-blind safe, then a neutral grey for the rest.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000")
OTHER_COLOUR = "#9a9a9a"
MAX_OUTLETS = len(PALETTE)
CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'"


class NoData(Exception):
    """The output directory holds no newsbeam files."""


@dataclass(frozen=True)
class StoryArticle:
    outlet: str
    title: str | None
    url: str | None
    first_seen_at: datetime | None


@dataclass(frozen=True)
class Story:
    story_id: str
    articles: int
    outlets: int
    title: str | None
    members: tuple[StoryArticle, ...]


@dataclass
class ReportData:
    output: str
    generated_at: datetime
    totals: dict[str, Any]
    per_day: list[tuple[date, str, int]] = field(default_factory=list)
    stories: list[Story] = field(default_factory=list)
    entities: list[dict[str, Any]] = field(default_factory=list)
    failures: list[dict[str, Any]] = field(default_factory=list)


def _records(relation: Any) -> list[dict[str, Any]]:
    columns = relation.columns
    return [dict(zip(columns, row, strict=True)) for row in relation.fetchall()]


def collect(
    output: str | Path, *, top_stories: int = 10, top_entities: int = 10, generated_at: datetime | None = None
) -> ReportData:
    """Everything the page shows, read with the SQL files in ``pipelines/sql``."""
    if not (has_files(output, "articles") or has_files(output, "failures")):
        raise NoData(
            f"no newsbeam output in {output} (no articles/ or failures/ Parquet files); "
            "pass --output DIR, or run `newsbeam run` / `newsbeam demo` first"
        )
    db = connect(output)
    totals = _records(
        db.sql(
            "SELECT count(*) AS articles, count(DISTINCT coalesce(publisher, source_domain)) AS outlets, "
            "count(DISTINCT coalesce(story_id, article_id)) AS stories, min(date) AS first_day, "
            "max(date) AS last_day FROM articles"
        )
    )[0]
    totals["failures"] = db.sql("SELECT count(*) FROM failures").fetchall()[0][0]
    data = ReportData(str(output), generated_at or datetime.now(UTC), totals)
    data.per_day = [
        (r["date"], r["outlet"], r["articles"]) for r in _records(run_sql(db, "articles_per_day"))
    ]
    stories = _records(run_sql(db, "stories", top=top_stories))
    members: dict[str, list[StoryArticle]] = defaultdict(list)
    if stories:
        for row in _records(run_sql(db, "story_articles", stories=[s["story_id"] for s in stories])):
            members[row["story_id"]].append(
                StoryArticle(row["outlet"], row["title"], row["url"], row["first_seen_at"])
            )
    data.stories = [
        Story(s["story_id"], s["articles"], s["outlets"], s["title"], tuple(members[s["story_id"]]))
        for s in stories
    ]
    data.entities = _records(run_sql(db, "entities_by_day", top=top_entities))
    data.failures = _records(run_sql(db, "failures"))
    return data


def write_report(
    output: str | Path, to: str | Path, *, top_stories: int = 10, generated_at: datetime | None = None
) -> Path:
    """Render the report of ``output`` to the file ``to`` (written whole, then renamed into place)."""
    page = render(collect(output, top_stories=top_stories, generated_at=generated_at))
    target = Path(to)
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(f".{target.name}.tmp")
    temporary.write_text(page, encoding="utf-8")
    os.replace(temporary, target)
    return target


# ----------------------------------------------------------------------------------------------
# HTML


def esc(value: object) -> str:
    """Text for HTML content and quoted attributes."""
    return html.escape("" if value is None else str(value), quote=True)


def safe_url(url: str | None) -> str | None:
    """``url`` if it is an http(s) URL (no ``javascript:``, ``data:`` ...), else None."""
    if not url:
        return None
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return None
    return url.strip() if parts.scheme.lower() in ("http", "https") and parts.netloc else None


def _link(text: str, url: str | None, css: str = "") -> str:
    target = safe_url(url)
    klass = f' class="{css}"' if css else ""
    if target is None:
        return f"<span{klass}>{esc(text)}</span>"
    return f'<a{klass} href="{esc(target)}" rel="noopener noreferrer nofollow">{esc(text)}</a>'


def _when(value: datetime | None) -> str:
    return "" if value is None else value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def nice_step(maximum: float, ticks: int = 4) -> float:
    """A round tick step (1, 2 or 5 times a power of ten) giving at most about ``ticks`` ticks."""
    if maximum <= 0:
        return 1.0
    raw = maximum / ticks
    power = 10 ** math.floor(math.log10(raw))
    for factor in (1, 2, 5, 10):
        if factor * power >= raw:
            return float(max(1, factor * power))
    return float(10 * power)


def stacked_bars(per_day: list[tuple[date, str, int]]) -> tuple[str, list[tuple[str, str]]]:
    """SVG: articles per day stacked by outlet (the biggest outlets; the rest as one). Also the legend."""
    totals: dict[str, int] = defaultdict(int)
    for _, outlet, count in per_day:
        totals[outlet] += count
    ranked = sorted(totals, key=lambda outlet: (-totals[outlet], outlet))
    shown = ranked if len(ranked) <= MAX_OUTLETS else ranked[: MAX_OUTLETS - 1]
    colours = {outlet: PALETTE[i] for i, outlet in enumerate(shown)}
    other = "other outlets"
    days = sorted({day for day, _, _ in per_day})
    cells: dict[date, dict[str, int]] = {day: defaultdict(int) for day in days}
    for day, outlet, count in per_day:
        cells[day][outlet if outlet in colours else other] += count
    order = [*shown, other]
    colours[other] = OTHER_COLOUR
    day_totals = [sum(cells[day].values()) for day in days]
    step = nice_step(max(day_totals, default=1))
    top = step * math.ceil(max(day_totals, default=1) / step)
    left, right, head, foot, height = 44, 12, 12, 58, 240
    band = max(16.0, min(64.0, 720 / max(1, len(days))))
    width = left + right + band * len(days)
    scale = (height - head - foot) / top
    base = height - foot
    parts = [
        f'<svg class="chart" role="img" aria-label="Articles per day and outlet" '
        f'viewBox="0 0 {width:.0f} {height}" width="{width:.0f}" height="{height}">'
    ]
    tick = 0.0
    while tick <= top + 1e-9:
        y = base - tick * scale
        parts.append(f'<line class="grid" x1="{left}" x2="{width - right:.0f}" y1="{y:.1f}" y2="{y:.1f}"/>')
        parts.append(f'<text class="tick" x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">{tick:g}</text>')
        tick += step
    every = max(1, math.ceil(len(days) / 24))
    for index, day in enumerate(days):
        x = left + index * band
        y = float(base)
        for outlet in order:
            count = cells[day].get(outlet, 0)
            if not count:
                continue
            h = count * scale
            y -= h
            parts.append(
                f'<rect x="{x + band * 0.12:.1f}" y="{y:.1f}" width="{band * 0.76:.1f}" height="{h:.1f}" '
                f'fill="{colours[outlet]}"><title>{esc(day)} · {esc(outlet)}: {count}</title></rect>'
            )
        if index % every == 0:
            cx = x + band / 2
            parts.append(
                f'<text class="tick" x="{cx:.1f}" y="{base + 14}" text-anchor="end" '
                f'transform="rotate(-40 {cx:.1f} {base + 14})">{esc(day)}</text>'
            )
    parts.append("</svg>")
    legend = [(outlet, colours[outlet]) for outlet in order if any(outlet in c for c in cells.values())]
    return "".join(parts), legend


def heatmap(entities: list[dict[str, Any]], days: list[date]) -> str:
    """SVG: mentions per day of the top entities, one row each, darker for more."""
    rows: dict[str, dict[str, Any]] = {}
    for record in entities:
        row = rows.setdefault(record["key"], {"name": record["name"], "label": record["label"], "days": {}})
        row["days"][record["date"]] = record["mentions"]
    days = sorted(set(days) | {r["date"] for r in entities})
    label_width, head, cell_h = 190, 70, 24
    cell_w = max(18.0, min(56.0, 700 / max(1, len(days))))
    width = label_width + cell_w * len(days) + 70  # room for the last rotated date
    height = head + cell_h * len(rows) + 4
    peak = max((m for row in rows.values() for m in row["days"].values()), default=1)
    parts = [
        f'<svg class="chart" role="img" aria-label="Mentions per day of the top entities" '
        f'viewBox="0 0 {width:.0f} {height}" width="{width:.0f}" height="{height}">'
    ]
    every = max(1, math.ceil(len(days) / 24))
    for index, day in enumerate(days):
        if index % every == 0:
            cx = label_width + index * cell_w + cell_w / 2
            parts.append(
                f'<text class="tick" x="{cx:.1f}" y="{head - 8}" transform="rotate(-40 {cx:.1f} {head - 8})">'
                f"{esc(day)}</text>"
            )
    for r, row in enumerate(rows.values()):
        y = head + r * cell_h
        parts.append(
            f'<text class="entity" x="{label_width - 8}" y="{y + cell_h * 0.68:.1f}" text-anchor="end">'
            f'{esc(row["name"])} <tspan class="label">{esc(row["label"])}</tspan></text>'
        )
        for index, day in enumerate(days):
            mentions = row["days"].get(day, 0)
            x = label_width + index * cell_w
            opacity = 0.06 if not mentions else 0.18 + 0.82 * mentions / peak
            parts.append(
                f'<rect x="{x + 1:.1f}" y="{y + 1}" width="{cell_w - 2:.1f}" height="{cell_h - 2}" '
                f'fill="#0072B2" fill-opacity="{opacity:.2f}"><title>{esc(row["name"])} · {esc(day)}: '
                f"{mentions} mentions</title></rect>"
            )
            if mentions and cell_w >= 24:
                colour = "#fff" if opacity > 0.55 else "#123"
                parts.append(
                    f'<text class="cell" x="{x + cell_w / 2:.1f}" y="{y + cell_h * 0.68:.1f}" '
                    f'text-anchor="middle" fill="{colour}">{mentions}</text>'
                )
    parts.append("</svg>")
    return "".join(parts)


def failure_bars(failures: list[dict[str, Any]]) -> str:
    """SVG: failures per stage and error type, horizontal bars."""
    label_width, bar_h, width = 230, 22, 640
    peak = max((f["failures"] for f in failures), default=1)
    height = bar_h * len(failures) + 4
    parts = [
        f'<svg class="chart" role="img" aria-label="Failures by reason" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}">'
    ]
    for index, row in enumerate(failures):
        y = index * bar_h
        length = (width - label_width - 50) * row["failures"] / peak
        reason = f"{row['stage']} / {row['error_type']}"
        parts.append(
            f'<text class="entity" x="{label_width - 8}" y="{y + bar_h * 0.68:.1f}" text-anchor="end">'
            f"{esc(reason)}</text>"
            f'<rect x="{label_width}" y="{y + 3}" width="{max(length, 1):.1f}" height="{bar_h - 6}" '
            f'fill="#D55E00"><title>{esc(reason)}: {row["failures"]}</title></rect>'
            f'<text class="tick" x="{label_width + length + 6:.1f}" y="{y + bar_h * 0.68:.1f}">'
            f"{row['failures']}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)


def _story(story: Story, rank: int) -> str:
    canonical = story.members[0] if story.members else None
    headline = story.title or "(untitled)"
    summary = f"{story.articles} article{'s' * (story.articles != 1)} from {story.outlets} outlet{'s' * (story.outlets != 1)}"
    parts = [
        f'<article class="story" data-story="{esc(story.story_id)}">',
        f'<h3 class="story-title"><span class="rank">{rank}</span>'
        f"{_link(headline, canonical.url if canonical else None)}</h3>",
        f'<p class="meta">{esc(canonical.outlet if canonical else "")} · '
        f"{esc(_when(canonical.first_seen_at if canonical else None))} · {esc(summary)}</p>",
    ]
    related = story.members[1:]
    if related:
        parts.append('<div class="related"><h4>Related coverage</h4><ul>')
        for member in related[:8]:
            parts.append(
                f'<li><span class="outlet">{esc(member.outlet)}</span>'
                f"{_link(member.title or '(untitled)', member.url, 'related-title')}"
                f"<time>{esc(_when(member.first_seen_at))}</time></li>"
            )
        if len(related) > 8:
            parts.append(f'<li class="more">and {len(related) - 8} more</li>')
        parts.append("</ul></div>")
    parts.append("</article>")
    return "".join(parts)


STYLE = """
:root { color-scheme: light; --ink: #1d232a; --muted: #5f6b76; --line: #dde3e8; --card: #fff; }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
       color: var(--ink); background: #f4f6f8; }
header { background: #12263a; color: #fff; padding: 20px 32px; }
header h1 { margin: 0 0 4px; font-size: 22px; }
header p { margin: 0; color: #c8d3de; font-size: 13px; }
main { max-width: 1180px; margin: 0 auto; padding: 16px 24px 40px; }
.totals { display: flex; flex-wrap: wrap; gap: 12px; margin: 8px 0 16px; padding: 0; list-style: none; }
.totals li { background: var(--card); border: 1px solid var(--line); border-radius: 8px;
             padding: 10px 16px; min-width: 130px; }
.totals b { display: block; font-size: 22px; }
.totals span { color: var(--muted); font-size: 12px; text-transform: uppercase; letter-spacing: .04em; }
section { background: var(--card); border: 1px solid var(--line); border-radius: 8px;
          padding: 16px 20px; margin: 16px 0; overflow-x: auto; }
section h2 { margin: 0 0 12px; font-size: 17px; }
.chart { display: block; max-width: 100%; height: auto; }
.chart .grid { stroke: var(--line); }
.chart .tick { font-size: 11px; fill: var(--muted); }
.chart .entity { font-size: 12px; fill: var(--ink); }
.chart .label { font-size: 10px; fill: var(--muted); }
.chart .cell { font-size: 11px; }
.legend { display: flex; flex-wrap: wrap; gap: 6px 16px; margin: 8px 0 0; padding: 0; list-style: none;
          font-size: 13px; }
.legend i { display: inline-block; width: 12px; height: 12px; border-radius: 2px; margin-right: 6px;
            vertical-align: -1px; }
.stories { display: grid; grid-template-columns: repeat(auto-fill, minmax(340px, 1fr)); gap: 14px; }
.story { border: 1px solid var(--line); border-radius: 8px; padding: 12px 14px; }
.story h3 { margin: 0 0 4px; font-size: 16px; line-height: 1.3; overflow-wrap: anywhere; }
.story h3 a, .related a { color: inherit; text-decoration: none; }
.story h3 a:hover, .related a:hover { text-decoration: underline; }
.rank { display: inline-block; min-width: 1.6em; color: var(--muted); font-weight: 400; }
.meta { margin: 0 0 8px; color: var(--muted); font-size: 12px; }
.related h4 { margin: 8px 0 4px; font-size: 12px; text-transform: uppercase; letter-spacing: .05em;
              color: var(--muted); }
.related ul { margin: 0; padding: 0; list-style: none; }
.related li { padding: 6px 0; border-top: 1px solid var(--line); font-size: 14px; overflow-wrap: anywhere; }
.related .outlet { display: block; font-size: 11px; font-weight: 600; color: #0b5d94; }
.related time { display: block; font-size: 11px; color: var(--muted); }
table { border-collapse: collapse; width: 100%; margin-top: 12px; font-size: 13px; }
th, td { text-align: left; padding: 6px 8px; border-top: 1px solid var(--line); vertical-align: top;
         overflow-wrap: anywhere; }
th { color: var(--muted); font-weight: 600; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.empty { color: var(--muted); font-style: italic; }
footer { color: var(--muted); font-size: 12px; text-align: center; padding: 0 0 24px; }
"""


def render(data: ReportData) -> str:
    """The whole page."""
    totals = data.totals
    span = (
        f"{totals['first_day']} to {totals['last_day']}"
        if totals.get("first_day") and totals["first_day"] != totals["last_day"]
        else str(totals.get("first_day") or "")
    )
    body = [
        "<header><h1>newsbeam report</h1>",
        f"<p>{esc(data.output)} · generated {esc(_when(data.generated_at))}</p></header><main>",
        '<ul class="totals">',
        *(
            f"<li><b>{esc(value)}</b><span>{esc(name)}</span></li>"
            for name, value in (
                ("articles", totals["articles"]),
                ("outlets", totals["outlets"]),
                ("stories", totals["stories"]),
                ("failures", totals["failures"]),
                ("dates", span or "none"),
            )
        ),
        "</ul>",
        '<section id="volume"><h2>Articles per day and outlet</h2>',
    ]
    if data.per_day:
        chart, legend = stacked_bars(data.per_day)
        body.append(chart)
        body.append('<ul class="legend">')
        body.extend(f'<li><i style="background:{colour}"></i>{esc(outlet)}</li>' for outlet, colour in legend)
        body.append("</ul>")
    else:
        body.append('<p class="empty">No articles yet.</p>')
    body.append('</section><section id="stories"><h2>Top stories</h2>')
    if data.stories:
        body.append('<div class="stories">')
        body.extend(_story(story, rank) for rank, story in enumerate(data.stories, 1))
        body.append("</div>")
    else:
        body.append('<p class="empty">No stories yet.</p>')
    body.append('</section><section id="entities"><h2>Top entities over time</h2>')
    if data.entities:
        body.append(heatmap(data.entities, sorted({day for day, _, _ in data.per_day})))
    else:
        body.append('<p class="empty">No tagged entities yet.</p>')
    body.append('</section><section id="failures"><h2>Failures by reason</h2>')
    if data.failures:
        body.append(failure_bars(data.failures))
        body.append(
            "<table><thead><tr><th>stage</th><th>error type</th><th>failures</th><th>URLs</th>"
            "<th>last seen</th><th>last message</th></tr></thead><tbody>"
        )
        body.extend(
            f"<tr><td>{esc(f['stage'])}</td><td>{esc(f['error_type'])}</td>"
            f'<td class="num">{f["failures"]}</td><td class="num">{f["urls"]}</td>'
            f"<td>{esc(_when(f['last_at']))}</td><td>{esc(f['last_message'])}</td></tr>"
            for f in data.failures
        )
        body.append("</tbody></table>")
    else:
        body.append('<p class="empty">No failures.</p>')
    body.append("</section></main><footer>newsbeam · the SQL behind this page is in pipelines/sql/</footer>")
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta name="referrer" content="no-referrer">'
        f"<title>newsbeam report · {esc(data.output)}</title>"
        f"<style>{STYLE}</style></head><body>" + "".join(body) + "</body></html>\n"
    )
