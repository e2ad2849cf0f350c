"""HTML page templates (one per fictional publisher) and RSS/Atom feed renderers.

Each template is a pure function ``Page -> str``. They differ on purpose: markup structure,
class names, boilerplate (navigation, cookie banners, ads, related links, comments, footers)
and which metadata they carry, so that extraction and date detection meet realistic variety.
All absolute URLs start with the ``{{BASE_URL}}`` placeholder the server substitutes.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from html import escape

from samples import BASE_URL_PLACEHOLDER as BASE


@dataclass(frozen=True)
class Publisher:
    """A fictional publisher: its identity, time zone, encoding and page template."""

    slug: str
    name: str
    tagline: str
    template: str  # key of TEMPLATES
    utc_offset_h: int
    tz_name: str
    encoding: str = "utf-8"
    date_in_url: bool = True
    section: str = "news"
    authors: tuple[str, ...] = ()

    @property
    def tz(self) -> timezone:
        return timezone(timedelta(hours=self.utc_offset_h))


@dataclass(frozen=True)
class Page:
    """Everything a template needs to render one page."""

    publisher: Publisher
    path: str  # URL path, e.g. "/daily-ledger/2025/06/17/x.html"
    canonical_path: str  # usually == path; differs for AMP/print variants
    title: str
    description: str
    paragraphs: tuple[str, ...]
    author: str | None
    tags: tuple[str, ...]
    published: datetime | None  # UTC
    meta_date: bool = True  # machine-readable date metadata on the page
    visible_date: bool = True  # human-readable date in the page
    related: tuple[tuple[str, str], ...] = ()  # (path, title)
    comments: tuple[tuple[str, str], ...] = ()  # (name, text)
    og_type: str = "article"
    section_links: tuple[tuple[str, str], ...] = ()  # for section/video pages
    amp_path: str | None = None  # path of an AMP variant, if one exists

    @property
    def url(self) -> str:
        return BASE + self.path

    @property
    def canonical(self) -> str:
        return BASE + self.canonical_path

    @property
    def local_time(self) -> datetime | None:
        return self.published.astimezone(self.publisher.tz) if self.published else None

    @property
    def iso(self) -> str:
        lt = self.local_time
        return lt.isoformat() if lt else ""


# --------------------------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------------------------


def e(text: str) -> str:
    return escape(text, quote=True)


def _paras(paragraphs: Sequence[str], cls: str = "") -> str:
    attr = f' class="{cls}"' if cls else ""
    return "\n".join(f"<p{attr}>{e(p)}</p>" for p in paragraphs)


def _links(items: Sequence[tuple[str, str]], li_cls: str = "") -> str:
    attr = f' class="{li_cls}"' if li_cls else ""
    return "\n".join(f'<li{attr}><a href="{BASE}{e(p)}">{e(t)}</a></li>' for p, t in items)


def _comments(comments: Sequence[tuple[str, str]], wrap: str, item: str) -> str:
    return "\n".join(
        f'<{wrap} class="{item}"><b>{e(n)}</b> <span>{e(t)}</span></{wrap}>' for n, t in comments
    )


def _keywords(page: Page) -> str:
    return e(", ".join(page.tags))


def _human_date(page: Page, fmt: str) -> str:
    lt = page.local_time
    return lt.strftime(fmt) if lt else ""


def _og(page: Page, site_name: bool = True) -> str:
    lines = [
        f'<meta property="og:title" content="{e(page.title)}">',
        f'<meta property="og:url" content="{e(page.canonical)}">',
        f'<meta property="og:type" content="{e(page.og_type)}">',
        f'<meta property="og:description" content="{e(page.description)}">',
    ]
    if site_name:
        lines.append(f'<meta property="og:site_name" content="{e(page.publisher.name)}">')
    return "\n".join(lines)


NAV = ("World", "Politics", "Business", "Technology", "Sport", "Culture", "Opinion", "Weather")


def _nav(pub: Publisher, cls: str) -> str:
    items = "".join(f'<li><a href="{BASE}/{pub.slug}/{n.lower()}/">{n}</a></li>' for n in NAV)
    return f'<nav class="{cls}"><ul>{items}</ul></nav>'


# --------------------------------------------------------------------------------------------
# Article templates
# --------------------------------------------------------------------------------------------


def ledger(page: Page) -> str:
    """The Daily Ledger: classic broadsheet markup, full OpenGraph + article:* metadata."""
    pub = page.publisher
    meta_date = (
        f'<meta property="article:published_time" content="{page.iso}">\n'
        f'<meta property="article:modified_time" content="{page.iso}">'
        if page.meta_date and page.published
        else ""
    )
    when = (
        f'<time datetime="{page.iso}">{_human_date(page, "%d %B %Y, %H:%M")}</time>'
        if page.visible_date and page.published
        else ""
    )
    author_meta = f'<meta name="author" content="{e(page.author)}">' if page.author else ""
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{e(page.title)} | {e(pub.name)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="description" content="{e(page.description)}">
<meta name="keywords" content="{_keywords(page)}">
{author_meta}
<link rel="canonical" href="{e(page.canonical)}">
{_og(page)}
{meta_date}
<link rel="alternate" type="application/rss+xml" title="{e(pub.name)}" href="{BASE}/feeds/{pub.slug}.xml">
</head>
<body class="article-page">
<div id="cookie-consent" class="cookie-banner"><p>We use cookies to personalise content and ads
and to analyse our traffic. By continuing to browse you agree to our use of cookies.</p>
<button>Accept all</button> <button>Manage preferences</button></div>
<header class="masthead"><a class="logo" href="{BASE}/{pub.slug}/">{e(pub.name)}</a>
<p class="tagline">{e(pub.tagline)}</p>
{_nav(pub, "primary-nav")}
<form class="search"><input name="q" placeholder="Search the Ledger"></form></header>
<div class="ad-slot ad-leaderboard">Advertisement</div>
<main>
<article class="story">
<p class="kicker">{e(pub.section.title())}</p>
<h1 class="headline">{e(page.title)}</h1>
<p class="standfirst">{e(page.description)}</p>
<p class="byline">By <span class="author">{e(page.author or "Staff reporter")}</span> {when}</p>
<div class="story-body">
{_paras(page.paragraphs)}
</div>
<p class="tags">Topics: {" · ".join(e(t) for t in page.tags)}</p>
</article>
<aside class="related"><h2>Related articles</h2><ul>
{_links(page.related)}
</ul></aside>
<section id="comments"><h2>Comments ({len(page.comments)})</h2>
{_comments(page.comments, "div", "comment")}
<p>Comments are moderated. Please read our community guidelines before posting.</p></section>
</main>
<footer class="site-footer"><ul><li><a href="{BASE}/{pub.slug}/about.html">About us</a></li>
<li><a href="{BASE}/{pub.slug}/contact.html">Contact</a></li><li>Privacy policy</li><li>Terms</li>
</ul><p>&copy; The Daily Ledger Ltd. All rights reserved.</p></footer>
</body>
</html>
"""


def harbor(page: Page) -> str:
    """Harbor Times: component-style classes, JSON-LD NewsArticle, no article:* meta tags."""
    pub = page.publisher
    ld: dict[str, object] = {
        "@context": "https://schema.org",
        "@type": "NewsArticle",
        "headline": page.title,
        "description": page.description,
        "mainEntityOfPage": page.canonical,
        "keywords": list(page.tags),
        "publisher": {"@type": "Organization", "name": pub.name},
    }
    if page.author:
        ld["author"] = [{"@type": "Person", "name": page.author}]
    if page.meta_date and page.published:
        ld["datePublished"] = page.iso
        ld["dateModified"] = page.iso
    when = (
        f'<span class="c-meta__date">{_human_date(page, "%B %d, %Y at %H:%M")} ({e(pub.tz_name)})</span>'
        if page.visible_date and page.published
        else ""
    )
    return f"""<!doctype html>
<html lang="en" data-theme="light">
<head>
<meta charset="utf-8">
<title>{e(page.title)} - {e(pub.name)}</title>
<link rel="canonical" href="{e(page.canonical)}">
{_og(page)}
<meta name="twitter:card" content="summary_large_image">
<meta name="twitter:title" content="{e(page.title)}">
<script type="application/ld+json">{json.dumps(ld, ensure_ascii=False)}</script>
<script>window.dataLayer = window.dataLayer || []; dataLayer.push({{"pageType": "article"}});</script>
</head>
<body>
<div class="c-consent" role="dialog"><p>Harbor Times and our partners use cookies and similar
technologies. Choose "Agree" to accept or "Settings" to decide.</p><a href="#">Agree</a>
<a href="#">Settings</a></div>
<div class="l-top">{_nav(pub, "c-menu")}
<a class="c-subscribe" href="{BASE}/{pub.slug}/subscribe.html">Subscribe from $1 a week</a></div>
<div class="l-grid">
<div class="l-main">
<header class="c-article-header"><h1 class="c-article-header__title">{e(page.title)}</h1>
<div class="c-meta"><span class="c-meta__author">{e(page.author or "")}</span> {when}</div>
</header>
<div class="c-article__body" data-component="body">
{_paras(page.paragraphs, "c-paragraph")}
</div>
<div class="c-newsletter"><h3>Get the Morning Tide newsletter</h3><p>The day's essential stories
from the waterfront and beyond, every weekday at 6 a.m.</p><input type="email"><button>Sign up
</button></div>
</div>
<div class="l-rail"><h3 class="c-rail__title">Most read</h3><ol class="c-mostread">
{_links(page.related, "c-mostread__item")}
</ol><div class="c-ad" data-slot="rail-1">Sponsored: Refinance your home today</div></div>
</div>
<div class="c-comments"><h3>Join the conversation</h3>
{_comments(page.comments, "article", "c-comment")}
</div>
<footer class="c-footer"><p>{e(pub.name)} | {e(pub.tagline)}</p><a href="#">Careers</a>
<a href="#">Advertise</a> <a href="#">Cookie settings</a></footer>
</body>
</html>
"""


def courier(page: Page) -> str:
    """Northern Courier: no machine-readable date at all, only a visible dateline."""
    pub = page.publisher
    when = (
        f'<p class="dateline">{_human_date(page, "%A %d %B %Y %H:%M")} {e(pub.tz_name)}</p>'
        if page.visible_date and page.published
        else ""
    )
    tags = "".join(
        f'<a class="tag" href="{BASE}/{pub.slug}/tag/{e(t.lower().replace(" ", "-"))}/">{e(t)}</a> '
        for t in page.tags
    )
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<title>{e(page.title)} &ndash; {e(pub.name)}</title>
<meta name="description" content="{e(page.description)}">
<meta name="author" content="{e(page.author or pub.name)}">
<meta name="news_keywords" content="{_keywords(page)}">
<link rel="canonical" href="{e(page.canonical)}">
{_og(page, site_name=False)}
</head>
<body>
<div class="gdpr-notice">This site uses cookies. <a href="#">Find out more</a> <a href="#">OK</a></div>
<div id="wrapper">
<div id="header"><span class="brand">{e(pub.name)}</span> <span class="weather">Today: 14&deg;C,
light rain</span>
{_nav(pub, "menu")}
</div>
<div id="content">
<div class="breadcrumbs"><a href="{BASE}/{pub.slug}/">Home</a> &rsaquo; {e(pub.section.title())}</div>
<h1>{e(page.title)}</h1>
<div class="author-box">Written by {e(page.author or "Courier staff")}</div>
{when}
<div class="share"><a href="#">Share on Facebook</a> <a href="#">Share on X</a> <a href="#">Email</a></div>
<div class="entry">
{_paras(page.paragraphs)}
</div>
<div class="tags">{tags}</div>
<div class="more-from"><h4>More from the Courier</h4><ul>
{_links(page.related)}
</ul></div>
</div>
<div id="sidebar"><div class="widget"><h4>Weather</h4><p>Rain clearing later, highs of 16&deg;C.</p>
</div><div class="widget promo">Buy the weekend print edition and save 30%.</div></div>
<div id="comments"><h4>Reader comments</h4>
{_comments(page.comments, "div", "reader-comment")}
</div>
<div id="footer">Northern Courier Media &middot; Contact the newsroom &middot; Complaints</div>
</div>
</body>
</html>
"""


def metro(page: Page) -> str:
    """Metro Wire: tabloid layout, inline ad junk between paragraphs, byline but no author meta."""
    pub = page.publisher
    meta_date = (
        f'<meta property="article:published_time" content="{page.iso}">\n'
        f'<meta name="parsely-pub-date" content="{page.iso}">'
        if page.meta_date and page.published
        else ""
    )
    when = (
        f'<span class="ts">Updated {_human_date(page, "%H:%M %Z, %b %d %Y")}</span>'.replace(
            " UTC-04:00", " ET"
        )
        if page.visible_date and page.published
        else ""
    )
    amp = f'<link rel="amphtml" href="{BASE}{e(page.amp_path)}">' if page.amp_path else ""
    body: list[str] = []
    for i, para in enumerate(page.paragraphs):
        body.append(f"<p>{e(para)}</p>")
        if i == 1:
            body.append(
                '<div class="inline-ad">ADVERTISEMENT</div>'
                '<div class="continue">STORY CONTINUES BELOW THIS AD</div>'
            )
        if i == 3 and page.related:
            path, title = page.related[0]
            body.append(
                f'<p class="read-also"><strong>Read more:</strong> '
                f'<a href="{BASE}{e(path)}">{e(title)}</a></p>'
            )
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{e(page.title)}</title>
<link rel="canonical" href="{e(page.canonical)}">
{amp}
{_og(page)}
{meta_date}
<meta name="parsely-tags" content="{_keywords(page)}">
</head>
<body class="mw">
<div class="ticker"><b>TRENDING:</b> Heatwave latest &bull; Transfer rumours &bull; Lottery results
&bull; Celebrity split</div>
<div id="top">{_nav(pub, "mw-nav")}</div>
<div id="main"><div class="content">
<h2 class="mw-headline">{e(page.title)}</h2>
<div class="mw-meta"><span class="byline">By <a href="#">{e(page.author or "Metro Wire")}</a></span>
{when}</div>
<div class="sharebar">SHARE <a href="#">f</a> <a href="#">x</a> <a href="#">wa</a></div>
<div class="mw-body">
{chr(10).join(body)}
</div>
<div class="trending"><h3>Trending on Metro Wire</h3><ul>
{_links(page.related[1:])}
</ul></div>
<div class="outbrain">Promoted stories: You won't believe what this 1980s star looks like now</div>
</div></div>
<div class="mw-comments"><h3>{len(page.comments)} comments</h3>
{_comments(page.comments, "p", "c")}
</div>
<div id="foot">&copy; Metro Wire Digital. Terms | Privacy | Cookie policy | Contact us</div>
</body>
</html>
"""


def metro_amp(page: Page) -> str:
    """Metro Wire AMP variant: a different URL whose canonical link points at the article."""
    pub = page.publisher
    meta_date = (
        f'<meta property="article:published_time" content="{page.iso}">'
        if page.meta_date and page.published
        else ""
    )
    return f"""<!doctype html>
<html amp lang="en">
<head>
<meta charset="utf-8">
<title>{e(page.title)}</title>
<link rel="canonical" href="{e(page.canonical)}">
<meta name="viewport" content="width=device-width,minimum-scale=1,initial-scale=1">
{_og(page)}
{meta_date}
<style amp-boilerplate>body{{visibility:hidden}}</style>
</head>
<body>
<header class="amp-header"><a href="{BASE}/{pub.slug}/">{e(pub.name)}</a></header>
<article>
<h1>{e(page.title)}</h1>
<p class="byline">By {e(page.author or pub.name)}</p>
{_paras(page.paragraphs)}
</article>
<amp-ad width="300" height="250" type="doubleclick" data-slot="/mw/amp"></amp-ad>
<footer><a href="{e(page.canonical)}">View full site</a></footer>
</body>
</html>
"""


def continental(page: Page) -> str:
    """The Continental Post: old-fashioned div soup with French class names, in windows-1252."""
    pub = page.publisher
    meta_date = (
        f'<meta property="article:published_time" content="{page.iso}">'
        if page.meta_date and page.published
        else ""
    )
    when = (
        f'<span class="date">{_human_date(page, "%d.%m.%Y %H:%M")} {e(pub.tz_name)}</span>'
        if page.visible_date and page.published
        else ""
    )
    menu = _links([(f"/{pub.slug}/{n.lower()}/", n) for n in NAV])
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="{pub.encoding}">
<title>{e(page.title)} :: {e(pub.name)}</title>
<meta name="author" content="{e(page.author or pub.name)}">
<meta name="keywords" content="{_keywords(page)}">
<meta name="description" content="{e(page.description)}">
<meta name="dc.language" content="en">
<link rel="canonical" href="{e(page.canonical)}">
{_og(page)}
{meta_date}
</head>
<body bgcolor="#ffffff">
<div id="cookies">Cookies help us deliver our services. By using our services, you agree to our
use of cookies. <a href="#">OK</a></div>
<div id="bandeau"><h3>{e(pub.name)}</h3><i>{e(pub.tagline)}</i></div>
<div id="menu"><ul>{menu}</ul>
<div class="pub">Hôtel Bellevue — réservez maintenant — 20% de réduction</div></div>
<div id="contenu">
<div class="entete"><span class="rubrique">{e(pub.section.title())}</span> {when}</div>
<h1 class="titre">{e(page.title)}</h1>
<div class="auteur">{e(page.author or "")}</div>
<div class="texte">
{_paras(page.paragraphs)}
</div>
<div class="voir-aussi"><b>See also:</b><ul>{_links(page.related)}</ul></div>
<div class="reactions"><b>Reactions</b>{_comments(page.comments, "div", "reaction")}</div>
</div>
<div id="pied">The Continental Post — Impressum — Datenschutz — Contact</div>
</body>
</html>
"""


def valley(page: Page) -> str:
    """Valley Observer: WordPress-style blog markup with article:tag and entry-date."""
    pub = page.publisher
    meta_date = (
        f'<meta property="article:published_time" content="{page.iso}">'
        if page.meta_date and page.published
        else ""
    )
    tag_meta = "\n".join(f'<meta property="article:tag" content="{e(t)}">' for t in page.tags)
    when = (
        f'Posted on <time class="entry-date published" datetime="{page.iso}">'
        f"{_human_date(page, '%B %d, %Y')}</time>"
        if page.visible_date and page.published
        else "Posted"
    )
    author_meta = f'<meta name="author" content="{e(page.author)}">' if page.author else ""
    return f"""<!DOCTYPE html>
<html lang="en-US">
<head>
<meta charset="UTF-8">
<title>{e(page.title)} &#8211; {e(pub.name)}</title>
<link rel="canonical" href="{e(page.canonical)}">
{author_meta}
{_og(page)}
{meta_date}
{tag_meta}
<link rel="stylesheet" href="{BASE}/static/style.css">
</head>
<body class="post-template-default single single-post">
<div id="page" class="site">
<div class="cookie-notice-container"><span>We use cookies to ensure that we give you the best
experience on our website.</span><a class="cn-accept">Ok</a></div>
<header id="masthead" class="site-header"><p class="site-title">{e(pub.name)}</p>
<p class="site-description">{e(pub.tagline)}</p>{_nav(pub, "main-navigation")}</header>
<div id="content" class="site-content"><div id="primary" class="content-area">
<article class="post type-post status-publish format-standard hentry">
<header class="entry-header"><h1 class="entry-title">{e(page.title)}</h1>
<div class="entry-meta">{when} by <span class="author vcard">{e(page.author or "admin")}</span></div>
</header>
<div class="entry-content">
{_paras(page.paragraphs)}
<div class="sharedaddy"><h3>Share this:</h3><a href="#">Facebook</a> <a href="#">Email</a></div>
</div>
<footer class="entry-footer">Tagged {", ".join(e(t) for t in page.tags)}</footer>
</article>
<div id="comments" class="comments-area"><h2 class="comments-title">{len(page.comments)} thoughts
</h2><ol class="commentlist">
{_comments(page.comments, "li", "comment")}
</ol><div id="respond"><h3>Leave a Reply</h3><textarea></textarea></div></div>
</div>
<aside id="secondary" class="widget-area"><section class="widget"><h2>Recent Posts</h2><ul>
{_links(page.related)}
</ul></section><section class="widget"><h2>Categories</h2><ul><li>Community</li><li>Schools</li>
<li>Council</li></ul></section></aside></div>
<footer id="colophon">Proudly serving the valley. Powered by WordPress.</footer>
</div>
</body>
</html>
"""


def bulletin(page: Page) -> str:
    """Capital Bulletin: schema.org microdata, a pull quote and a paywall prompt."""
    pub = page.publisher
    date_md = (
        f'<meta itemprop="datePublished" content="{page.iso}">' if page.meta_date and page.published else ""
    )
    when = (
        f'<p class="timestamp">{_human_date(page, "%b. %d, %Y %I:%M %p")} {e(pub.tz_name)}</p>'
        if page.visible_date and page.published
        else ""
    )
    quote = next((p for p in page.paragraphs if "“" in p or '"' in p), page.paragraphs[0])
    body = [f"<p>{e(p)}</p>" for p in page.paragraphs]
    body.insert(min(2, len(body)), f'<blockquote class="pullquote">{e(quote[:160])}</blockquote>')
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{e(page.title)}</title>
<meta name="description" content="{e(page.description)}">
<meta name="author" content="{e(page.author or pub.name)}">
<meta property="article:section" content="{e(pub.section.title())}">
<link rel="canonical" href="{e(page.canonical)}">
{_og(page)}
</head>
<body>
<div class="consent-overlay"><p>Your privacy choices: we and 143 partners store and access
information on your device.</p><button>Accept</button><button>Reject</button></div>
<div class="topbar">{_nav(pub, "sections")}<a class="login" href="#">Log in</a></div>
<main>
<article itemscope itemtype="https://schema.org/NewsArticle">
<header class="article-header"><span class="section-label">{e(pub.section.title())}</span>
<h1 itemprop="headline">{e(page.title)}</h1>
<p class="dek" itemprop="description">{e(page.description)}</p>
<p class="author">By <span itemprop="author">{e(page.author or pub.name)}</span></p>
{when}{date_md}
<link itemprop="mainEntityOfPage" href="{e(page.canonical)}">
</header>
<figure><img src="{BASE}/static/placeholder.svg" alt=""><figcaption>File photo. Credit:
Bulletin staff</figcaption></figure>
<section class="article-body" itemprop="articleBody">
{chr(10).join(body)}
</section>
</article>
<div class="paywall-prompt"><h3>Thanks for reading the Capital Bulletin</h3><p>You have read 3 of
your 5 free articles this month. Subscribe for unlimited access.</p></div>
<section class="recirc"><h3>Recommended for you</h3><ul>{_links(page.related)}</ul></section>
<section class="comments" id="comments"><h3>Comments</h3>
{_comments(page.comments, "div", "cmt")}
</section>
</main>
<footer><p>Capital Bulletin Media Group. Do not sell my personal information.</p></footer>
</body>
</html>
"""


TEMPLATES: dict[str, Callable[[Page], str]] = {
    "ledger": ledger,
    "harbor": harbor,
    "courier": courier,
    "metro": metro,
    "continental": continental,
    "valley": valley,
    "bulletin": bulletin,
}


# --------------------------------------------------------------------------------------------
# Pages that are not articles
# --------------------------------------------------------------------------------------------


def section_page(page: Page) -> str:
    """A section front: og:type website, a list of headlines, almost no prose."""
    pub = page.publisher
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{e(page.title)} | {e(pub.name)}</title>
<link rel="canonical" href="{e(page.canonical)}">
{_og(page)}
</head>
<body>
<div class="topbar">{_nav(pub, "sections")}</div>
<main class="section-front"><h1>{e(page.title)}</h1>
<p>{e(page.description)}</p>
<ul class="river">
{_links(page.section_links, "river-item")}
</ul>
<div class="ad">Advertisement</div></main>
<footer><p>{e(pub.name)}</p></footer>
</body>
</html>
"""


def video_page(page: Page) -> str:
    """A video page: og:type video.other, a player, a one-paragraph blurb, link lists."""
    pub = page.publisher
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>VIDEO: {e(page.title)}</title>
<link rel="canonical" href="{e(page.canonical)}">
{_og(page)}
<meta property="og:video" content="{BASE}/{pub.slug}/media/clip-{len(page.title)}.mp4">
</head>
<body class="mw video">
<div id="top">{_nav(pub, "mw-nav")}</div>
<div class="player"><video controls src="{BASE}/{pub.slug}/media/clip.mp4"></video></div>
<h2 class="mw-headline">{e(page.title)}</h2>
<p class="blurb">{e(page.paragraphs[0])}</p>
<div class="up-next"><h3>Up next</h3><ul>
{_links(page.section_links)}
</ul></div>
<div id="foot">&copy; Metro Wire Digital</div>
</body>
</html>
"""


def home_page(publishers: Sequence[tuple[Publisher, Sequence[str]]]) -> str:
    """The site index: every publisher with its home link and feeds."""
    rows = []
    for pub, feeds in publishers:
        links = " ".join(f'<a href="{BASE}{e(f)}">{e(f.rsplit("/", 1)[-1])}</a>' for f in feeds)
        rows.append(f"<li><b>{e(pub.name)}</b> &mdash; {e(pub.tagline)} &mdash; feeds: {links}</li>")
    return f"""<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>newsbeam sample news site</title></head>
<body>
<h1>newsbeam sample news site</h1>
<p>Fictional publishers serving sample articles for the newsbeam demo. See manifest.json.</p>
<ul>
{chr(10).join(rows)}
</ul>
</body>
</html>
"""


# --------------------------------------------------------------------------------------------
# Feeds
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FeedItem:
    """One feed entry as written in the feed (link may carry tracking parameters)."""

    link: str
    guid: str
    title: str
    description: str
    published: datetime | None
    author: str | None
    categories: tuple[str, ...] = ()


@dataclass(frozen=True)
class Channel:
    path: str  # "/feeds/x.xml"
    title: str
    home_path: str
    description: str
    language: str
    publisher: Publisher


def rss2(channel: Channel, items: Sequence[FeedItem], encoding: str, built: datetime) -> str:
    """RSS 2.0 with dc:creator; ``built`` (the newest item date) becomes lastBuildDate."""
    tz = channel.publisher.tz
    out = [
        f'<?xml version="1.0" encoding="{encoding}"?>',
        '<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/" '
        'xmlns:atom="http://www.w3.org/2005/Atom">',
        "<channel>",
        f"<title>{e(channel.title)}</title>",
        f"<link>{BASE}{e(channel.home_path)}</link>",
        f'<atom:link href="{BASE}{e(channel.path)}" rel="self" type="application/rss+xml"/>',
        f"<description>{e(channel.description)}</description>",
        f"<language>{channel.language}</language>",
        f"<lastBuildDate>{format_datetime(built.astimezone(tz))}</lastBuildDate>",
        "<ttl>15</ttl>",
    ]
    for it in items:
        out.append("<item>")
        out.append(f"<title>{e(it.title)}</title>")
        out.append(f"<link>{e(it.link)}</link>")
        permalink = "true" if it.guid.startswith(BASE) else "false"
        out.append(f'<guid isPermaLink="{permalink}">{e(it.guid)}</guid>')
        if it.published:
            out.append(f"<pubDate>{format_datetime(it.published.astimezone(tz))}</pubDate>")
        if it.author:
            out.append(f"<dc:creator>{e(it.author)}</dc:creator>")
        out.extend(f"<category>{e(c)}</category>" for c in it.categories)
        out.append(f"<description>{e(it.description)}</description>")
        out.append("</item>")
    out += ["</channel>", "</rss>", ""]
    return "\n".join(out)


def atom(channel: Channel, items: Sequence[FeedItem], built: datetime) -> str:
    """Atom 1.0 (always UTF-8)."""
    tz = channel.publisher.tz
    out = [
        '<?xml version="1.0" encoding="utf-8"?>',
        f'<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="{channel.language}">',
        f"<title>{e(channel.title)}</title>",
        f"<subtitle>{e(channel.description)}</subtitle>",
        f'<link rel="alternate" type="text/html" href="{BASE}{e(channel.home_path)}"/>',
        f'<link rel="self" type="application/atom+xml" href="{BASE}{e(channel.path)}"/>',
        f"<id>urn:newsbeam-samples:feed:{channel.publisher.slug}</id>",
        f"<updated>{built.astimezone(tz).isoformat()}</updated>",
    ]
    for it in items:
        out.append("<entry>")
        out.append(f"<title>{e(it.title)}</title>")
        out.append(f'<link rel="alternate" type="text/html" href="{e(it.link)}"/>')
        out.append(f"<id>{e(it.guid)}</id>")
        if it.published:
            stamp = it.published.astimezone(tz).isoformat()
            out.append(f"<published>{stamp}</published>")
            out.append(f"<updated>{stamp}</updated>")
        if it.author:
            out.append(f"<author><name>{e(it.author)}</name></author>")
        out.extend(f'<category term="{e(c)}"/>' for c in it.categories)
        out.append(f'<summary type="text">{e(it.description)}</summary>')
        out.append("</entry>")
    out += ["</feed>", ""]
    return "\n".join(out)
