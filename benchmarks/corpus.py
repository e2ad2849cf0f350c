"""A large servable news site for benchmarks: ``python -m benchmarks.corpus OUT [--articles N] [--seed S]``.

``build_site(out_dir, n_articles, seed)`` writes ``n_articles`` distinct article pages, rendered
with the bundled sample site's seven publisher templates (``samples.templates``), plus their
RSS/Atom feeds (the eight feeds of the sample site, each listing all of its articles), a
``robots.txt`` and a ``manifest.json`` in the sample site's format, so that
``samples.server.SampleSite(out_dir)`` serves it and ``feed_paths`` lists its feeds.

The texts come from the bundled site alone (no ``../shared`` needed): the body paragraphs of its
160 article pages are split into sentences, and each new article takes a "story" (one bundled
article) and mixes about half of its sentences with sentences of other articles, cut into 3 to 9
paragraphs of 2 to 5 sentences.  So every article is distinct (different URL, title, and text,
no near-duplicates by construction: shared sentences are shuffled and diluted), while the ~12
variants of one story share vocabulary and entities as articles about one event do.  With
``copies`` > 0, that share of the articles are syndicated copies of an earlier one republished
by another outlet (``copy_of`` in the manifest).
Deterministic from ``seed``: same arguments, byte-identical site.

``write_config(path)`` writes the job config for a benchmark run against such a site on
127.0.0.1 (private addresses allowed, no per-host delay); pass the server's address with
``--feeds-base-url``.
"""

# The sample texts use typographic quotes and dashes.
# ruff: noqa: RUF001

from __future__ import annotations

import argparse
import html
import json
import random
import re
import shutil
import sys
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

from samples import BASE_URL_PLACEHOLDER as BASE
from samples import SITE_DIR
from samples import templates as tpl
from samples.generate import (
    COMMENTERS,
    COMMENTS,
    FEEDS,
    FEEDS_BY_PUB,
    PUBLISHERS,
    ROBOTS,
    TRACKING_ALL_LINKS,
    description_for,
    slugify,
    tags_for,
)
from samples.texts import headline_from_sentence

DEFAULT_ARTICLES = 2000
FIRST_DAY = date(2025, 6, 13)
N_DAYS = 7
MARKER = "benchmarks.corpus"  # written in manifest.json: a directory we may replace

_BODY_PARAGRAPH = re.compile(r'^<p(?: class="c-paragraph")?>(.+)</p>$', re.MULTILINE)
_SENTENCE_END = re.compile(r"(?<=[.!?…”’\"])\s+(?=[A-Z“‘\"(0-9])")


@dataclass(frozen=True)
class Story:
    """The sentences of one bundled article, the seed of a family of variants."""

    publisher: str
    sentences: tuple[str, ...]


@dataclass(frozen=True)
class Article:
    index: int
    publisher: str
    feed: str
    path: str
    title: str
    paragraphs: tuple[str, ...]
    published: datetime
    author: str
    story: int
    copy_of: int | None = None  # the index of the article this one republishes


def load_stories(site_dir: Path = SITE_DIR) -> list[Story]:
    """The body sentences of every article page of a generated sample site (its manifest)."""
    manifest = json.loads((site_dir / "manifest.json").read_text(encoding="utf-8"))
    stories = []
    for row in manifest["articles"]:
        body = (site_dir / row["path"].lstrip("/")).read_bytes().decode(row.get("encoding", "utf-8"))
        sentences = [
            s.strip()
            for paragraph in _BODY_PARAGRAPH.findall(body)
            for s in _SENTENCE_END.split(html.unescape(paragraph))
            if len(s.split()) >= 4
        ]
        if len(sentences) >= 4:
            stories.append(Story(row["publisher"], tuple(sentences)))
    if not stories:
        raise ValueError(f"no article texts found in {site_dir}")
    return stories


def _paragraphs(sentences: list[str], rng: random.Random) -> tuple[str, ...]:
    out, i = [], 0
    while i < len(sentences):
        n = rng.randint(2, 5)
        out.append(" ".join(sentences[i : i + n]))
        i += n
    return tuple(out)


def _article_text(story: Story, pool: list[str], rng: random.Random) -> tuple[tuple[str, ...], str]:
    """(paragraphs, title) of one variant of ``story``."""
    own = list(story.sentences)
    lead = own[0]
    rest = own[1:]
    rng.shuffle(rest)
    keep = rest[: max(2, len(rest) // 2)]
    n_other = rng.randint(max(4, len(keep)), max(8, 2 * len(keep)))
    mixed = keep + [pool[rng.randrange(len(pool))] for _ in range(n_other)]
    rng.shuffle(mixed)
    words = sum(len(s.split()) for s in mixed)
    while words < 150:  # every article is long enough to be one (min_words) and to sign
        extra = pool[rng.randrange(len(pool))]
        mixed.append(extra)
        words += len(extra.split())
    title_from = mixed[0] if rng.random() < 0.5 else lead
    return (lead, *_paragraphs(mixed, rng)), headline_from_sentence(title_from)


SYNDICATION_NOTES = (
    "This article was originally published by a partner outlet and is republished with permission.",
    "Reporting by wire staff; additional reporting by our newsroom.",
    "Copyright the wire service. All rights reserved.",
)


def _republished(original: Article, rng: random.Random) -> tuple[tuple[str, ...], str]:
    """(paragraphs, title) of another outlet's copy of ``original``: the same text, perhaps its
    last paragraph cut, a syndication note added, the headline kept or lightly edited."""
    paragraphs = list(original.paragraphs)
    if len(paragraphs) > 3 and rng.random() < 0.5:
        paragraphs.pop()
    paragraphs.append(SYNDICATION_NOTES[rng.randrange(len(SYNDICATION_NOTES))])
    title = original.title if rng.random() < 0.5 else f"{original.title}: what we know"
    return tuple(paragraphs), title


def plan_articles(stories: list[Story], n_articles: int, seed: int, copies: float = 0.0) -> list[Article]:
    """``n_articles`` articles; a share ``copies`` of them republish an earlier article of another
    publisher (a syndicated copy, seen up to three hours after it), the rest are distinct."""
    rng = random.Random(seed)
    syndication = random.Random(seed + 2)  # its own stream: copies=0 gives the site as before
    pool = [s for story in stories for s in story.sentences]
    order = list(range(len(stories)))
    rng.shuffle(order)
    pubs = list(PUBLISHERS)
    articles: list[Article] = []
    for i in range(n_articles):
        if copies > 0 and i >= 10 and syndication.random() < copies:
            original = articles[i - 1 - syndication.randrange(min(50, i))]
            while original.copy_of is not None:
                original = articles[original.copy_of]
            paragraphs, title = _republished(original, syndication)
            others = [p for p in pubs if p.slug != original.publisher]
            pub = others[syndication.randrange(len(others))]
            feeds = FEEDS_BY_PUB[pub.slug]
            feed = feeds[syndication.randrange(len(feeds))].path
            published = original.published + timedelta(minutes=syndication.randrange(1, 180))
            base = f"/{pub.slug}/{published:%Y/%m/%d}" if pub.date_in_url else f"/{pub.slug}/{pub.section}"
            path = f"{base}/{slugify(title, 7)}-{i:05d}.html"
            author = pub.authors[syndication.randrange(len(pub.authors))]
            articles.append(
                Article(
                    i,
                    pub.slug,
                    feed,
                    path,
                    title,
                    paragraphs,
                    published,
                    author,
                    original.story,
                    original.index,
                )
            )
            continue
        story_index = order[i % len(order)]
        paragraphs, title = _article_text(stories[story_index], pool, rng)
        pub = pubs[(i + story_index) % len(pubs)]
        feeds = FEEDS_BY_PUB[pub.slug]
        feed = feeds[rng.randrange(len(feeds))].path
        day = FIRST_DAY + timedelta(days=rng.randrange(N_DAYS))
        published = datetime.combine(day, time(rng.randrange(24), rng.randrange(60)), tzinfo=UTC)
        base = f"/{pub.slug}/{published:%Y/%m/%d}" if pub.date_in_url else f"/{pub.slug}/{pub.section}"
        path = f"{base}/{slugify(title, 7)}-{i:05d}.html"
        author = pub.authors[rng.randrange(len(pub.authors))]
        articles.append(Article(i, pub.slug, feed, path, title, paragraphs, published, author, story_index))
    return articles


def _page(article: Article, related: tuple[tuple[str, str], ...], rng: random.Random) -> tpl.Page:
    pub = next(p for p in PUBLISHERS if p.slug == article.publisher)
    comments = tuple(
        (COMMENTERS[rng.randrange(len(COMMENTERS))], COMMENTS[rng.randrange(len(COMMENTS))])
        for _ in range(rng.randrange(5))
    )
    return tpl.Page(
        publisher=pub,
        path=article.path,
        canonical_path=article.path,
        title=article.title,
        description=description_for(article.paragraphs),
        paragraphs=article.paragraphs,
        author=article.author,
        tags=tags_for(article.title, pub.section),
        published=article.published,
        related=related,
        comments=comments,
    )


def _encode(text: str, encoding: str) -> bytes:
    return text.encode(encoding, errors="xmlcharrefreplace")


def render_site(articles: list[Article], seed: int) -> dict[str, bytes]:
    """Every file of the site, as relative path -> bytes."""
    rng = random.Random(seed + 1)
    by_pub: dict[str, list[Article]] = defaultdict(list)
    for a in sorted(articles, key=lambda a: (a.published, a.path)):
        by_pub[a.publisher].append(a)
    pubs = {p.slug: p for p in PUBLISHERS}
    files: dict[str, bytes] = {}
    for slug, items in by_pub.items():
        pub = pubs[slug]
        for i, a in enumerate(items):
            others = [items[(i + k) % len(items)] for k in range(1, 5) if len(items) > k]
            page = _page(a, tuple((o.path, o.title) for o in others), rng)
            files[a.path.lstrip("/")] = _encode(tpl.TEMPLATES[pub.template](page), pub.encoding)
    for spec in FEEDS:
        mine = sorted((a for a in articles if a.feed == spec.path), key=lambda a: (a.published, a.path))
        if not mine:
            continue
        pub = pubs[spec.publisher]
        suffix = TRACKING_ALL_LINKS if spec.publisher == "daily-ledger" else ""
        items = [
            tpl.FeedItem(
                link=BASE + a.path + suffix,
                guid=BASE + a.path,
                title=a.title,
                description=description_for(a.paragraphs),
                published=a.published,
                author=a.author,
                categories=tags_for(a.title, pub.section)[:2],
            )
            for a in reversed(mine)  # newest first
        ]
        channel = tpl.Channel(spec.path, spec.title, f"/{pub.slug}/", spec.description, spec.language, pub)
        if spec.format == "atom":
            body = tpl.atom(channel, items, mine[-1].published)
        else:
            body = tpl.rss2(channel, items, spec.encoding, mine[-1].published)
        files[spec.path.lstrip("/")] = _encode(body, spec.encoding)
    files["robots.txt"] = ROBOTS.encode("ascii")
    files["manifest.json"] = (json.dumps(_manifest(articles, seed), indent=1) + "\n").encode("utf-8")
    return dict(sorted(files.items()))


def _manifest(articles: list[Article], seed: int) -> dict[str, object]:
    used = {a.feed for a in articles}
    return {
        "generator": MARKER,
        "seed": seed,
        "n_articles": len(articles),
        "base_url_placeholder": BASE,
        "publishers": [
            {
                "name": p.name,
                "slug": p.slug,
                "encoding": p.encoding,
                "feeds": [
                    {"path": f.path, "format": f.format, "encoding": f.encoding, "language": f.language}
                    for f in FEEDS_BY_PUB[p.slug]
                    if f.path in used
                ],
            }
            for p in PUBLISHERS
        ],
        "articles": [
            {
                "path": a.path,
                "publisher": a.publisher,
                "feed": a.feed,
                "title": a.title,
                "published_at": a.published.isoformat().replace("+00:00", "Z"),
                "words": sum(len(p.split()) for p in a.paragraphs),
                "story": a.story,
                **({"copy_of": articles[a.copy_of].path} if a.copy_of is not None else {}),
            }
            for a in articles
        ],
    }


def build_site(out_dir: Path, n_articles: int = DEFAULT_ARTICLES, seed: int = 0, copies: float = 0.0) -> Path:
    """Write a site of ``n_articles`` articles to ``out_dir`` (replaced); returns it.  All are
    distinct but a share ``copies`` of syndicated copies (``plan_articles``).

    Refuses to replace a non-empty directory that is not such a site.
    """
    if n_articles < 1:
        raise ValueError("n_articles must be at least 1")
    out_dir = Path(out_dir)
    files = render_site(plan_articles(load_stories(), n_articles, seed, copies), seed)
    if out_dir.exists():
        manifest = out_dir / "manifest.json"
        mine = manifest.is_file() and MARKER in manifest.read_text(encoding="utf-8")[:200]
        if any(out_dir.iterdir()) and not mine:
            raise FileExistsError(f"refusing to replace {out_dir}: not a benchmarks.corpus site")
        shutil.rmtree(out_dir)
    for rel, data in files.items():
        target = out_dir / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    return out_dir


def feed_configs() -> list[dict[str, str]]:
    """The feeds of a generated site, as config entries (relative URLs)."""
    names = {p.slug: p.name for p in PUBLISHERS}
    return [{"url": f.path, "publisher": names[f.publisher], "language": f.language} for f in FEEDS]


def config_text(output: str = "data") -> str:
    """A job config (YAML) for such a site served on 127.0.0.1: no per-host delay."""
    lines = [
        "# Benchmark job over a benchmarks.corpus site on 127.0.0.1 (pass --feeds-base-url).",
        f"output: {json.dumps(output)}",
        "http: {timeout_s: 30, retries: 1, backoff_s: 0.2, allow_private_addresses: true}",
        "fetch: {min_host_delay_s: 0.0, respect_robots: true}",
        "feeds:",
    ]
    lines += [f"  - {json.dumps(feed)}" for feed in feed_configs()]
    return "\n".join(lines) + "\n"


def write_config(path: Path, output: str = "data") -> Path:
    path = Path(path)
    path.write_text(config_text(output), encoding="utf-8")
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.corpus", description=__doc__.split("\n")[0])
    parser.add_argument("out", type=Path, help="site directory to write (replaced)")
    parser.add_argument("--articles", type=int, default=DEFAULT_ARTICLES)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--copies", type=float, default=0.0, help="share of syndicated copies (default 0)")
    parser.add_argument("--config", type=Path, default=None, help="also write a job config here")
    args = parser.parse_args(argv)
    try:
        build_site(args.out, args.articles, args.seed, args.copies)
    except (FileExistsError, ValueError) as err:
        print(err, file=sys.stderr)
        return 2
    size = sum(f.stat().st_size for f in args.out.rglob("*") if f.is_file())
    print(f"wrote {args.articles} articles ({size / 1e6:.1f} MB) to {args.out}")
    if args.config:
        write_config(args.config)
        print(f"config: {args.config} (run with --feeds-base-url http://127.0.0.1:PORT)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
