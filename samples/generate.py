"""Generate the bundled sample site: ``python -m samples.generate [--ecb PATH] [--seed PATH] [--out DIR]``.

Builds fictional publishers' article pages and feeds from the seed aggregator page, ECB+ articles
and a few written texts, plants the cases a news pipeline must handle (wire copies, tracking and
canonical duplicates, broken links, date evidence variety), and writes ``manifest.json`` listing
every feed item with its expected outcome. Deterministic: a fixed seed, sorted iteration, no clock.
"""

# The sample texts use typographic quotes and dashes on purpose.
# ruff: noqa: RUF001, RUF002

from __future__ import annotations

import argparse
import json
import random
import re
import shutil
import sys
import unicodedata
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

from samples import BASE_URL_PLACEHOLDER as BASE
from samples import templates as tpl
from samples import texts
from samples.templates import Channel, FeedItem, Page, Publisher
from samples.texts import Text

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_ECB = REPO_ROOT.parent / "shared" / "data" / "stories-ecbplus-dev" / "docs.jsonl"
DEFAULT_SEED = REPO_ROOT.parent / "shared" / "seed" / "aggregator-page.txt"
DEFAULT_OUT = Path(__file__).resolve().parent / "site"

SEED = 20250613
FIRST_DAY = date(2025, 6, 13)
N_DAYS = 7
N_ECB_ARTICLES = 140
NEAR_DUP_JACCARD = 0.15  # ECB+ docs more similar than this to a chosen one are left out
AGENCY_CREDIT = "With inputs from agencies"

# --------------------------------------------------------------------------------------------
# Publishers and feeds
# --------------------------------------------------------------------------------------------

PUBLISHERS: tuple[Publisher, ...] = (
    Publisher(
        "daily-ledger",
        "The Daily Ledger",
        "Independent news since 1881",
        "ledger",
        1,
        "BST",
        section="world",
        authors=("Eleanor Whitfield", "Samuel Okoro", "Priya Natarajan", "Tom Ashdown"),
    ),
    Publisher(
        "harbor-times",
        "Harbor Times",
        "News from the waterfront and the world",
        "harbor",
        -4,
        "EDT",
        date_in_url=False,
        section="news",
        authors=("Megan Castillo", "Daniel Brooks", "Aisha Rahman", "Kevin O'Neill"),
    ),
    Publisher(
        "northern-courier",
        "Northern Courier",
        "The voice of the north",
        "courier",
        1,
        "BST",
        section="news",
        authors=("Fiona MacLeod", "Gareth Pryce", "Hannah Berg"),
    ),
    Publisher(
        "metro-wire",
        "Metro Wire",
        "Fast news, all day",
        "metro",
        -4,
        "ET",
        section="news",
        authors=("Jake Moreno", "Chloe Tan", "Marcus Reed", "Lily Haddad"),
    ),
    Publisher(
        "continental-post",
        "The Continental Post",
        "Europe’s independent daily — since 1922",
        "continental",
        2,
        "CEST",
        encoding="windows-1252",
        section="europe",
        authors=("Léa Fournier", "Jürgen Maß", "Sofía Núñez", "Åsa Lindqvist", "Zoë Brontë-Müller"),
    ),
    Publisher(
        "valley-observer",
        "Valley Observer",
        "Community news for the valley",
        "valley",
        -7,
        "PDT",
        section="community",
        authors=("Carmen Ruiz", "Dale Whitaker", "Nina Petrova"),
    ),
    Publisher(
        "capital-bulletin",
        "Capital Bulletin",
        "Politics, power and policy",
        "bulletin",
        -4,
        "EDT",
        section="politics",
        authors=("Rebecca Lang", "Omar Siddiqui", "Grace Holloway", "Victor Mensah"),
    ),
)
PUB = {p.slug: p for p in PUBLISHERS}


@dataclass(frozen=True)
class FeedSpec:
    path: str
    publisher: str
    title: str
    description: str
    format: str  # "rss2" | "atom"
    encoding: str = "utf-8"
    language: str = "en"


FEEDS: tuple[FeedSpec, ...] = (
    FeedSpec(
        "/feeds/daily-ledger.xml",
        "daily-ledger",
        "The Daily Ledger - World",
        "Top world stories from The Daily Ledger",
        "rss2",
    ),
    FeedSpec(
        "/feeds/harbor-times.atom",
        "harbor-times",
        "Harbor Times",
        "Latest news from the Harbor Times",
        "atom",
    ),
    FeedSpec(
        "/feeds/northern-courier.xml",
        "northern-courier",
        "Northern Courier - News",
        "News from the Northern Courier",
        "rss2",
    ),
    FeedSpec(
        "/feeds/metro-wire.xml", "metro-wire", "Metro Wire: Latest", "All the latest from Metro Wire", "rss2"
    ),
    FeedSpec(
        "/feeds/continental-post.xml",
        "continental-post",
        "The Continental Post — Europe",
        "Europe’s news, in English — “independent since 1922”",
        "rss2",
        encoding="windows-1252",
    ),
    FeedSpec(
        "/feeds/valley-observer.xml",
        "valley-observer",
        "Valley Observer",
        "Community news for the valley",
        "rss2",
    ),
    FeedSpec(
        "/feeds/capital-bulletin-politics.xml",
        "capital-bulletin",
        "Capital Bulletin: Politics",
        "Politics and policy from the Capital Bulletin",
        "rss2",
    ),
    FeedSpec(
        "/feeds/capital-bulletin-world.xml",
        "capital-bulletin",
        "Capital Bulletin: World",
        "World news from the Capital Bulletin",
        "rss2",
    ),
)
MALFORMED_FEED = FeedSpec(
    "/feeds/metro-wire-breaking.xml", "metro-wire", "Metro Wire - Breaking", "Breaking news alerts", "rss2"
)
FEEDS_BY_PUB: dict[str, list[FeedSpec]] = defaultdict(list)
for _f in FEEDS:
    FEEDS_BY_PUB[_f.publisher].append(_f)

TRACKING_ALL_LINKS = "?utm_source=rss&utm_medium=feed"  # the Ledger tags every feed link
TRACKING_OTHER = "?utm_campaign=morning-briefing&fbclid=IwAR0x9abc#rssom"

COMMENTERS = (
    "Pat R.",
    "jdoe77",
    "Margaret Ellis",
    "northern_lights",
    "Ken W.",
    "S. Alvarez",
    "oldtimer",
    "Bea",
    "Ravi K.",
    "Citizen Jane",
    "M. Dubois",
    "Tomasz",
)
COMMENTS = (
    "Interesting read, thanks for covering this.",
    "This is exactly what I have been saying for years.",
    "Does anyone know where the full report can be found?",
    "Good reporting, but the headline is misleading.",
    "Not surprised at all, to be honest.",
    "My thoughts are with everyone affected.",
    "Why is nobody talking about the cost of all this?",
    "Subscribed just to comment: excellent piece.",
    "I would like to see a follow-up on this next month.",
    "The comments section never disappoints.",
)

# --------------------------------------------------------------------------------------------
# Planning records
# --------------------------------------------------------------------------------------------


@dataclass
class Planned:
    """One article page to write, with everything its feed item needs."""

    publisher: str
    text: Text
    published: datetime  # true publication time (UTC); also orders the feed
    kind: str = "normal"  # normal | wire_copy
    feed: str = ""
    title: str = ""
    paragraphs: tuple[str, ...] = ()
    wire_group: str | None = None
    wire_variant: str | None = None
    feed_date: bool = True  # the feed item has a pubDate / published
    meta_date: bool = True  # the page has machine-readable date metadata
    visible_date: bool = True
    date_in_url: bool | None = None  # None: the publisher's default
    path: str = ""
    section_path: str | None = None  # forced non-dated path (e.g. "/valley-observer/community")
    author: str | None = None
    amp_variant: bool = False
    extra: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.title = self.title or self.text.title
        self.paragraphs = self.paragraphs or self.text.paragraphs


@dataclass(frozen=True)
class ExtraItem:
    """A feed item that does not lead to a normal article row."""

    feed: str
    path: str
    link_suffix: str
    title: str
    description: str
    published: datetime | None
    expect: str
    canonical_path: str | None  # expected canonical URL path (None when nothing is fetched)
    guid: str


# --------------------------------------------------------------------------------------------
# Pure helpers
# --------------------------------------------------------------------------------------------


def slugify(title: str, max_words: int = 9) -> str:
    ascii_title = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode()
    words = re.findall(r"[a-z0-9]+", ascii_title.lower())
    return "-".join(words[:max_words]) or "story"


def shingles(text: str, k: int = 5) -> set[tuple[str, ...]]:
    words = re.findall(r"\w+", text.lower())
    return {tuple(words[i : i + k]) for i in range(max(0, len(words) - k + 1))}


def jaccard(a: set[tuple[str, ...]], b: set[tuple[str, ...]]) -> float:
    return len(a & b) / len(a | b) if a and b else 0.0


_STOP = {
    "The",
    "A",
    "An",
    "In",
    "On",
    "At",
    "As",
    "For",
    "After",
    "With",
    "From",
    "Why",
    "How",
    "What",
    "Who",
    "New",
    "Two",
    "Second",
    "First",
    "Man",
    "Woman",
    "Police",
}


def tags_for(title: str, section: str) -> tuple[str, ...]:
    words = re.findall(r"\b[A-Z][\w’'-]+(?: [A-Z][\w’'-]+)*", title)
    seen: list[str] = []
    for w in words:
        w = re.sub(r"(?:['’]s)$", "", w)
        if w not in _STOP and w not in seen and len(w) > 2 and len(w.split()) <= 3:
            seen.append(w)
    return (section.title(), *seen[:3])


def description_for(paragraphs: Sequence[str]) -> str:
    first = paragraphs[0]
    m = re.match(r"(.{40,220}?[.!?])(?:\s|$)", first)
    desc = m.group(1) if m else first[:200].rsplit(" ", 1)[0] + "…"
    return desc


def at(day: int, hour: int, minute: int) -> datetime:
    """UTC time on the ``day``-th day of the corpus (0 = 2025-06-13)."""
    return datetime.combine(FIRST_DAY + timedelta(days=day), time(hour, minute), tzinfo=UTC)


def iso(dt: datetime | None) -> str | None:
    return dt.astimezone(UTC).isoformat().replace("+00:00", "Z") if dt else None


# --------------------------------------------------------------------------------------------
# Choosing texts
# --------------------------------------------------------------------------------------------

WIRE_ECB = {
    # group id -> (ECB+ doc, the three headlines, publishers, day, hours)
    "wire-mt-cook": (
        "23_7ecbplus.xml",
        (
            "Second climber dies at Mt Cook",
            "Two deaths in a weekend on New Zealand's highest peak",
            "Bad weather hampers recovery after second Mt Cook climbing death",
        ),
        ("harbor-times", "continental-post", "capital-bulletin"),
        1,
        (6, 9, 13),
    ),
    "wire-ie-patch": (
        "27_10ecb.xml",
        (
            "Microsoft releases critical patch for IE zero-day flaw",
            "Emergency Internet Explorer update fixes flaw used in attacks",
            "Microsoft rushes out fix as browser attacks spread",
        ),
        ("daily-ledger", "northern-courier", "valley-observer"),
        6,
        (8, 10, 15),
    ),
}
WIRE_HEATWAVE_TITLES = (
    texts.WIRE_HEATWAVE.title,
    "Southern Europe swelters as grids face record demand",
    "Heat alert: temperatures top 40C in Spain, Portugal and Italy",
)


def load_ecb(path: Path, rng: random.Random) -> dict[str, tuple[Text, int]]:
    """All usable ECB+ docs: doc -> (text, topic)."""
    out: dict[str, tuple[Text, int]] = {}
    with path.open(encoding="utf-8") as fh:
        rows = [json.loads(line) for line in fh if line.strip()]
    for row in sorted(rows, key=lambda r: str(r["doc"])):
        text = texts.ecb_text(row["doc"], row["text"], row["cluster"], rng)
        if text is not None:
            out[row["doc"]] = (text, int(row["topic"]))
    return out


def choose_ecb(
    pool: dict[str, tuple[Text, int]], taken: Sequence[Text], n: int, rng: random.Random
) -> list[Text]:
    """``n`` ECB+ texts of 100–900 words, none a near-duplicate of another or of ``taken``."""
    docs = sorted(d for d, (t, _) in pool.items() if 100 <= t.words <= 900)
    rng.shuffle(docs)
    chosen: list[Text] = []
    sigs = [shingles(" ".join(t.paragraphs)) for t in taken]
    for doc in docs:
        text = pool[doc][0]
        sig = shingles(" ".join(text.paragraphs))
        if any(jaccard(sig, s) > NEAR_DUP_JACCARD for s in sigs):
            continue
        chosen.append(text)
        sigs.append(sig)
        if len(chosen) == n:
            break
    if len(chosen) < n:
        raise ValueError(f"only {len(chosen)} usable ECB+ documents, need {n}")
    return chosen


# --------------------------------------------------------------------------------------------
# Planning the corpus
# --------------------------------------------------------------------------------------------


def wire_copies(
    group: str,
    text: Text,
    titles: Sequence[str],
    pubs: Sequence[str],
    day: int,
    hours: Sequence[int],
    rng: random.Random,
) -> list[Planned]:
    """Three verbatim copies: as is; last paragraph trimmed; with an agency credit line."""
    variants = (
        ("verbatim", text.paragraphs),
        ("last_paragraph_trimmed", text.paragraphs[:-1]),
        ("agency_credit", (*text.paragraphs, AGENCY_CREDIT)),
    )
    return [
        Planned(
            pub,
            text,
            at(day, hour, rng.randrange(60)),
            kind="wire_copy",
            title=title,
            paragraphs=paras,
            wire_group=group,
            wire_variant=variant,
        )
        for pub, title, hour, (variant, paras) in zip(pubs, titles, hours, variants, strict=True)
    ]


def plan(
    ecb_pool: dict[str, tuple[Text, int]], seed_page: str, rng: random.Random
) -> tuple[list[Planned], list[ExtraItem], Text]:
    """Decide every article (publisher, time, planted case) and the extra feed items."""
    toi, firstpost = texts.seed_toi(seed_page), texts.seed_firstpost(seed_page)
    g7, putin = texts.seed_g7(seed_page, rng), texts.seed_putin_video(seed_page)
    articles: list[Planned] = [
        Planned("daily-ledger", toi, at(5, 5, 40)),
        Planned("capital-bulletin", firstpost, at(5, 9, 15)),
        Planned("harbor-times", g7, at(4, 14, 30)),
    ]
    wire_bases: list[Text] = [texts.WIRE_HEATWAVE]
    articles += wire_copies(
        "wire-heatwave",
        texts.WIRE_HEATWAVE,
        WIRE_HEATWAVE_TITLES,
        ("northern-courier", "metro-wire", "valley-observer"),
        3,
        (7, 8, 11),
        rng,
    )
    for group, (doc, titles, pubs, day, hours) in sorted(WIRE_ECB.items()):
        base = ecb_pool[doc][0]
        wire_bases.append(base)
        articles += wire_copies(group, base, titles, pubs, day, hours, rng)
    # written local and European texts
    market, pool_text, startup = texts.WRITTEN_LOCAL
    articles += [
        Planned("northern-courier", market, at(0, 16, 5)),
        Planned("valley-observer", pool_text, at(2, 18, 20)),
        Planned("harbor-times", startup, at(6, 13, 45)),
    ]
    for i, text in enumerate(texts.WRITTEN_CONTINENTAL):
        articles.append(Planned("continental-post", text, at(1 + 2 * i, 7 + 3 * i, 10 + 7 * i)))
    # date evidence: only in the URL path; nowhere at all
    articles.append(
        Planned(
            "northern-courier",
            texts.WRITTEN_URL_DATE,
            at(2, 0, 0),
            feed_date=False,
            meta_date=False,
            visible_date=False,
        )
    )
    articles.append(
        Planned(
            "valley-observer",
            texts.WRITTEN_NO_DATE,
            at(3, 20, 30),
            feed_date=False,
            meta_date=False,
            visible_date=False,
            date_in_url=False,
            section_path="/valley-observer/community",
        )
    )
    # ECB+ articles: same-cluster articles land on different publishers within ~a day
    taken = [toi, firstpost, g7, *wire_bases, *texts.WRITTEN_LOCAL, *texts.WRITTEN_CONTINENTAL]
    chosen = choose_ecb(
        {d: v for d, v in ecb_pool.items() if d not in {w[0] for w in WIRE_ECB.values()}},
        taken,
        N_ECB_ARTICLES,
        rng,
    )
    by_story: dict[str, list[Text]] = defaultdict(list)
    for text in chosen:
        by_story[text.story or text.source].append(text)
    slugs = [p.slug for p in PUBLISHERS]
    counts: dict[str, int] = defaultdict(int)
    for a in articles:
        counts[a.publisher] += 1
    for story in sorted(by_story):
        day = rng.randrange(N_DAYS - 1)
        for text in by_story[story]:
            used = {a.publisher for a in articles if a.text.story == story}
            pub = min(slugs, key=lambda s: (s in used, counts[s], rng.random()))
            counts[pub] += 1
            when = at(day + rng.choice((0, 0, 1)), rng.randrange(5, 23), rng.randrange(60))
            articles.append(Planned(pub, text, when))
    # one Ledger ECB article has no date in the feed, only in the page metadata
    ledger_ecb = sorted(
        (
            a
            for a in articles
            if a.publisher == "daily-ledger" and a.text.source.startswith("ecbplus") and a.kind == "normal"
        ),
        key=lambda a: a.published,
    )
    ledger_ecb[len(ledger_ecb) // 2].feed_date = False
    # one Metro Wire article also exists as an AMP page listed in the feed
    metro = sorted(
        (a for a in articles if a.publisher == "metro-wire" and a.kind == "normal"), key=lambda a: a.published
    )
    metro[len(metro) // 3].amp_variant = True
    assign_feeds_and_paths(articles, rng)
    extras = plan_extras(articles)
    return articles, extras, putin


def assign_feeds_and_paths(articles: list[Planned], rng: random.Random) -> None:
    used: set[str] = set()
    for a in sorted(articles, key=lambda a: (a.published, a.publisher, a.title)):
        pub = PUB[a.publisher]
        feeds = FEEDS_BY_PUB[a.publisher]
        a.feed = feeds[0].path if len(feeds) == 1 else feeds[rng.randrange(len(feeds))].path
        a.author = pub.authors[rng.randrange(len(pub.authors))]
        dated = pub.date_in_url if a.date_in_url is None else a.date_in_url
        if a.section_path:
            base = a.section_path
        elif dated:
            base = f"/{pub.slug}/{a.published:%Y/%m/%d}"
        else:
            base = f"/{pub.slug}/{pub.section}"
        stem = slugify(a.title)
        path = f"{base}/{stem}.html"
        n = 2
        while path in used:
            path, n = f"{base}/{stem}-{n}.html", n + 1
        used.add(path)
        a.path = path


def plan_extras(articles: list[Planned]) -> list[ExtraItem]:
    """Feed items for the planted duplicate and broken cases."""
    by_pub: dict[str, list[Planned]] = defaultdict(list)
    for a in sorted(articles, key=lambda a: a.published):
        by_pub[a.publisher].append(a)
    ledger = [a for a in by_pub["daily-ledger"] if a.feed_date and a.kind == "normal"]
    repost = ledger[len(ledger) // 4]
    courier = [a for a in by_pub["northern-courier"] if a.feed_date and a.kind == "normal"]
    partner = courier[len(courier) // 2]
    amp = next(a for a in articles if a.amp_variant)
    amp_path = amp.path.replace("/metro-wire/", "/metro-wire/amp/", 1)
    return [
        ExtraItem(
            "/feeds/daily-ledger.xml",
            repost.path,
            TRACKING_OTHER,
            f"UPDATED: {repost.title}",
            description_for(repost.paragraphs),
            repost.published + timedelta(hours=3),
            "tracking_duplicate",
            repost.path,
            f"ledger-{slugify(repost.title, 4)}-update",
        ),
        ExtraItem(
            "/feeds/valley-observer.xml",
            partner.path,
            "?utm_campaign=partner&fbclid=abc123#rssom",
            f"From our partners: {partner.title}",
            description_for(partner.paragraphs),
            partner.published + timedelta(hours=2),
            "tracking_duplicate",
            partner.path,
            f"vo-partner-{slugify(partner.title, 4)}",
        ),
        ExtraItem(
            "/feeds/metro-wire.xml",
            amp_path,
            "",
            amp.title,
            description_for(amp.paragraphs),
            amp.published + timedelta(minutes=20),
            "canonical_duplicate",
            amp.path,
            BASE + amp_path,
        ),
        ExtraItem(
            "/feeds/daily-ledger.xml",
            "/daily-ledger/2025/06/16/council-vote-on-tram-extension-postponed.html",
            TRACKING_ALL_LINKS,
            "Council vote on tram extension postponed",
            "The vote on the tram extension has been postponed until after the summer.",
            at(3, 12, 5),
            "http_404",
            None,
            "ledger-council-vote-postponed",
        ),
        ExtraItem(
            "/feeds/capital-bulletin-world.xml",
            "/capital-bulletin/world/",
            "",
            "World news: the day's headlines",
            "All of today's world coverage in one place.",
            at(6, 6, 0),
            "not_an_article",
            "/capital-bulletin/world/",
            "cb-world-front-20250619",
        ),
        ExtraItem(
            "/feeds/metro-wire.xml",
            "/metro-wire/video/putin-military-overhaul.html",
            "",
            "VIDEO: Putin pushes new military overhaul, prioritises nuclear power",
            "Watch: Putin calls for special attention to the nuclear triad.",
            at(4, 16, 40),
            "not_an_article",
            "/metro-wire/video/putin-military-overhaul.html",
            BASE + "/metro-wire/video/putin-military-overhaul.html",
        ),
        ExtraItem(
            "/feeds/valley-observer.xml",
            "/private/valley-observer/2025/06/18/subscriber-briefing-county-budget.html",
            "",
            texts.WRITTEN_PRIVATE.title,
            description_for(texts.WRITTEN_PRIVATE.paragraphs),
            at(5, 15, 0),
            "robots_disallowed",
            None,
            "vo-subscriber-briefing-county-budget",
        ),
    ]


# --------------------------------------------------------------------------------------------
# Rendering
# --------------------------------------------------------------------------------------------


def page_for(a: Planned, related: tuple[tuple[str, str], ...], rng: random.Random) -> Page:
    pub = PUB[a.publisher]
    n_comments = rng.randrange(0, 5)
    comments = tuple(
        (COMMENTERS[rng.randrange(len(COMMENTERS))], COMMENTS[rng.randrange(len(COMMENTS))])
        for _ in range(n_comments)
    )
    return Page(
        publisher=pub,
        path=a.path,
        canonical_path=a.path,
        title=a.title,
        description=description_for(a.paragraphs),
        paragraphs=a.paragraphs,
        author=a.author,
        tags=tags_for(a.title, pub.section),
        published=a.published,
        meta_date=a.meta_date,
        visible_date=a.visible_date,
        related=related,
        comments=comments,
        amp_path=a.path.replace("/metro-wire/", "/metro-wire/amp/", 1) if a.amp_variant else None,
    )


def related_for(articles: Sequence[Planned]) -> dict[str, tuple[tuple[str, str], ...]]:
    """Four other articles of the same publisher (the next ones in time, wrapping)."""
    by_pub: dict[str, list[Planned]] = defaultdict(list)
    for a in sorted(articles, key=lambda a: (a.published, a.path)):
        by_pub[a.publisher].append(a)
    out: dict[str, tuple[tuple[str, str], ...]] = {}
    for items in by_pub.values():
        for i, a in enumerate(items):
            others = [items[(i + k) % len(items)] for k in range(1, 5) if len(items) > k]
            out[a.path] = tuple((o.path, o.title) for o in others)
    return out


def encode(text: str, encoding: str) -> bytes:
    return text.encode(encoding, errors="xmlcharrefreplace")


MALFORMED_BODY = f"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0">
<channel>
<title>Metro Wire - Breaking</title>
<link>{BASE}/metro-wire/</link>
<description>Breaking news alerts & live updates <b>
<br />
<b>Fatal error</b>:  Allowed memory size of 134217728 bytes exhausted (tried to allocate 20480
bytes) in <b>/var/www/metro/feeds/breaking.php</b> on line <b>212</b><br />
"""

ROBOTS = """User-agent: *
Disallow: /private/

User-agent: BadBot
Disallow: /
"""

STATIC_CSS = "body { font-family: Georgia, serif; max-width: 46em; margin: auto; }\n"
PLACEHOLDER_SVG = (
    '<svg xmlns="http://www.w3.org/2000/svg" width="640" height="360">'
    '<rect width="100%" height="100%" fill="#ddd"/></svg>\n'
)


def build_site(ecb_path: Path, seed_path: Path) -> dict[str, bytes]:
    """Every file of the site, as relative path -> bytes (pure apart from reading the inputs)."""
    rng = random.Random(SEED)
    ecb_pool = load_ecb(ecb_path, rng)
    seed_page = seed_path.read_text(encoding="utf-8")
    articles, extras, putin = plan(ecb_pool, seed_page, rng)
    articles.sort(key=lambda a: (a.published, a.path))
    files: dict[str, bytes] = {}
    related = related_for(articles)
    pages: dict[str, Page] = {}
    for a in articles:
        # an undated page must not link to dated URLs either (date extractors read links)
        links = related[a.path] if date_source(a) != "none" else ()
        page = page_for(a, links, rng)
        pages[a.path] = page
        pub = PUB[a.publisher]
        files[a.path.lstrip("/")] = encode(tpl.TEMPLATES[pub.template](page), pub.encoding)
    files.update(extra_pages(articles, extras, pages, putin))
    feed_items = build_feeds(articles, extras, files)
    files["feeds/metro-wire-breaking.xml"] = MALFORMED_BODY.encode("utf-8")
    files["robots.txt"] = ROBOTS.encode("ascii")
    files["static/style.css"] = STATIC_CSS.encode("ascii")
    files["static/placeholder.svg"] = PLACEHOLDER_SVG.encode("ascii")
    home = [
        (
            p,
            [f.path for f in FEEDS_BY_PUB[p.slug]]
            + ([MALFORMED_FEED.path] if p.slug == MALFORMED_FEED.publisher else []),
        )
        for p in PUBLISHERS
    ]
    files["index.html"] = tpl.home_page(home).encode("utf-8")
    files["manifest.json"] = (
        json.dumps(manifest(articles, extras, feed_items, pages), ensure_ascii=False, indent=1) + "\n"
    ).encode("utf-8")
    return dict(sorted(files.items()))


def extra_pages(
    articles: Sequence[Planned], extras: Sequence[ExtraItem], pages: dict[str, Page], putin: Text
) -> dict[str, bytes]:
    """AMP variant, section front, video page and the robots-disallowed page."""
    files: dict[str, bytes] = {}
    amp = next(a for a in articles if a.amp_variant)
    amp_page = replace(pages[amp.path], path=pages[amp.path].amp_path or "", amp_path=None)
    files[amp_page.path.lstrip("/")] = tpl.metro_amp(amp_page).encode("utf-8")
    bulletin = PUB["capital-bulletin"]
    links = tuple((a.path, a.title) for a in articles if a.publisher == "capital-bulletin")
    section = Page(
        bulletin,
        "/capital-bulletin/world/",
        "/capital-bulletin/world/",
        "World",
        "Latest world news.",
        (),
        None,
        (),
        None,
        og_type="website",
        section_links=links[-15:],
    )
    files["capital-bulletin/world/index.html"] = tpl.section_page(section).encode("utf-8")
    metro = PUB["metro-wire"]
    video_path = "/metro-wire/video/putin-military-overhaul.html"
    metro_links = tuple((a.path, a.title) for a in articles if a.publisher == "metro-wire")
    video = Page(
        metro,
        video_path,
        video_path,
        putin.title,
        putin.paragraphs[0][:150],
        putin.paragraphs,
        None,
        ("Russia", "Video"),
        at(4, 16, 40),
        og_type="video.other",
        section_links=metro_links[:6],
    )
    files[video_path.lstrip("/")] = tpl.video_page(video).encode("utf-8")
    private = next(x for x in extras if x.expect == "robots_disallowed")
    valley = PUB["valley-observer"]
    priv = Page(
        valley,
        private.path,
        private.path,
        texts.WRITTEN_PRIVATE.title,
        private.description,
        texts.WRITTEN_PRIVATE.paragraphs,
        "Dale Whitaker",
        ("Community", "Budget"),
        private.published,
    )
    files[private.path.lstrip("/")] = tpl.valley(priv).encode("utf-8")
    return files


@dataclass(frozen=True)
class ItemRecord:
    """A feed item as written plus what the pipeline should make of it."""

    feed: str
    item: FeedItem
    expect: str
    canonical: str | None
    article_path: str | None


def build_feeds(
    articles: Sequence[Planned], extras: Sequence[ExtraItem], files: dict[str, bytes]
) -> list[ItemRecord]:
    """Write every well-formed feed into ``files``; return all items with their expectations."""
    records: list[tuple[datetime, ItemRecord]] = []
    for a in articles:
        pub = PUB[a.publisher]
        suffix = TRACKING_ALL_LINKS if a.publisher == "daily-ledger" else ""
        guid = BASE + a.path if a.publisher != "harbor-times" else f"urn:harbor-times:{slugify(a.title, 5)}"
        item = FeedItem(
            link=BASE + a.path + suffix,
            guid=guid,
            title=a.title,
            description=description_for(a.paragraphs),
            published=a.published if a.feed_date else None,
            author=a.author,
            categories=tags_for(a.title, pub.section)[:2],
        )
        records.append((a.published, ItemRecord(a.feed, item, "article", BASE + a.path, a.path)))
    for x in extras:
        item = FeedItem(
            link=BASE + x.path + x.link_suffix,
            guid=x.guid,
            title=x.title,
            description=x.description,
            published=x.published,
            author=None,
        )
        canonical = BASE + x.canonical_path if x.canonical_path else None
        records.append((x.published or FIRST_DAY_DT, ItemRecord(x.feed, item, x.expect, canonical, None)))
    out: list[ItemRecord] = []
    for spec in FEEDS:
        mine = sorted(
            (r for r in records if r[1].feed == spec.path), key=lambda r: (r[0], r[1].item.guid), reverse=True
        )  # newest first
        items = [r.item for _, r in mine]
        built = mine[0][0]
        pub = PUB[spec.publisher]
        channel = Channel(spec.path, spec.title, f"/{pub.slug}/", spec.description, spec.language, pub)
        if spec.format == "atom":
            body = tpl.atom(channel, items, built)
        else:
            body = tpl.rss2(channel, items, spec.encoding, built)
        files[spec.path.lstrip("/")] = encode(body, spec.encoding)
        out += [r for _, r in reversed(mine)]  # oldest first, as released in replay mode
    return out


FIRST_DAY_DT = datetime.combine(FIRST_DAY, time(0, 0), tzinfo=UTC)


# --------------------------------------------------------------------------------------------
# Manifest
# --------------------------------------------------------------------------------------------


def date_source(a: Planned) -> str:
    if a.feed_date:
        return "feed"
    if a.meta_date or a.visible_date:
        return "page"
    if re.search(r"/\d{4}/\d{2}/\d{2}/", a.path):
        return "url"
    return "none"


def expected_published(a: Planned) -> str | None:
    source = date_source(a)
    if source == "url":
        return iso(datetime.combine(a.published.date(), time(0, 0), tzinfo=UTC))
    return None if source == "none" else iso(a.published)


def manifest(
    articles: Sequence[Planned],
    extras: Sequence[ExtraItem],
    items: Sequence[ItemRecord],
    pages: dict[str, Page],
) -> dict[str, object]:
    ids = {a.path: f"a{i:03d}" for i, a in enumerate(articles, start=1)}
    wire: dict[str, dict[str, object]] = {}
    stories: dict[str, list[str]] = defaultdict(list)
    for a in articles:
        if a.text.story:
            stories[a.text.story].append(a.path)
        if a.wire_group:
            group = wire.setdefault(
                a.wire_group, {"story": a.text.story, "text_source": a.text.source, "copies": []}
            )
            copies = group["copies"]
            assert isinstance(copies, list)
            copies.append(
                {"path": a.path, "publisher": a.publisher, "variant": a.wire_variant, "title": a.title}
            )
    extra_pages = [
        {"path": x.path, "kind": x.expect, "canonical": BASE + x.canonical_path if x.canonical_path else None}
        for x in extras
        if x.expect != "tracking_duplicate"
    ]
    return {
        "base_url_placeholder": BASE,
        "seed": SEED,
        "dates": [str(FIRST_DAY + timedelta(days=d)) for d in range(N_DAYS)],
        "robots_disallow": ["/private/"],
        "publishers": [
            {
                "name": p.name,
                "slug": p.slug,
                "home": f"/{p.slug}/",
                "template": p.template,
                "encoding": p.encoding,
                "feeds": [
                    {
                        "path": f.path,
                        "title": f.title,
                        "format": f.format,
                        "encoding": f.encoding,
                        "language": f.language,
                    }
                    for f in FEEDS_BY_PUB[p.slug]
                ],
            }
            for p in PUBLISHERS
        ],
        "malformed_feeds": [MALFORMED_FEED.path],
        "articles": [
            {
                "id": ids[a.path],
                "publisher": a.publisher,
                "path": a.path,
                "title": a.title,
                "author": a.author,
                "published_at": expected_published(a),
                "date_source": date_source(a),
                "kind": a.kind,
                "text_source": a.text.source,
                "wire_group": a.wire_group,
                "story": a.text.story,
                "words": sum(len(p.split()) for p in a.paragraphs),
                "feed": a.feed,
                "encoding": PUB[a.publisher].encoding,
                "language": "en",
            }
            for a in articles
        ],
        "pages": extra_pages,
        "feed_items": [
            {
                "feed": r.feed,
                "link": r.item.link,
                "guid": r.item.guid,
                "title": r.item.title,
                "published": iso(r.item.published),
                "expect": r.expect,
                "canonical": r.canonical,
                "article": ids.get(r.article_path or ""),
            }
            for r in items
        ],
        "wire_groups": dict(sorted(wire.items())),
        "stories": {k: v for k, v in sorted(stories.items()) if len(v) > 1},
    }


# --------------------------------------------------------------------------------------------
# CLI
# --------------------------------------------------------------------------------------------


def write_site(files: dict[str, bytes], out: Path) -> None:
    """Replace ``out`` with ``files`` (refuses to delete a directory that is not a site)."""
    if out.exists():
        if any(out.iterdir()) and not (out / "manifest.json").exists():
            raise SystemExit(f"refusing to overwrite {out}: not a generated sample site")
        shutil.rmtree(out)
    for rel, data in files.items():
        target = out / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m samples.generate", description=__doc__)
    parser.add_argument("--ecb", type=Path, default=DEFAULT_ECB, help="ECB+ docs.jsonl")
    parser.add_argument("--seed", type=Path, default=DEFAULT_SEED, help="seed aggregator page")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output directory")
    args = parser.parse_args(argv)
    for p in (args.ecb, args.seed):
        if not p.is_file():
            print(f"missing input: {p}", file=sys.stderr)
            return 2
    files = build_site(args.ecb, args.seed)
    write_site(files, args.out)
    size = sum(len(b) for b in files.values())
    print(f"wrote {len(files)} files ({size / 1e6:.1f} MB) to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
