"""Runs the third-party peer extractors inside ``.venv-peers`` (see ``benchmarks/peers.py``).

Standalone on purpose: standard library plus the peers, no import from the project, so that it
runs with the peers' interpreter.  Protocol: JSON lines.  On start it prints
``{"available": [names], "errors": {name: message}}``; then for every request
``{"peer": name, "html_b64": ..., "url": ...}`` it prints ``{"ok": true, "text", "title",
"published", "seconds"}`` (``published`` an ISO string as the peer gives it, ``seconds`` the
time of the extraction call alone) or ``{"ok": false, "error": message, "seconds"}``.
"""

from __future__ import annotations

import base64
import json
import re
import sys
import time
from collections.abc import Callable
from datetime import date, datetime
from typing import Any

Result = tuple[str, "str | None", "str | None"]
_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([\w.:-]+)""", re.IGNORECASE)
_BLOCKS = {
    "p", "div", "br", "li", "ul", "ol", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote",
    "pre", "tr", "table", "section", "article", "header", "footer", "figure", "figcaption",
    "dd", "dt", "dl", "hr", "aside", "main", "td", "th",
}  # fmt: skip


def decode_html(html: bytes) -> str:
    """Bytes to text for the peers that want ``str``: the declared charset, else UTF-8."""
    match = _CHARSET.search(html[:4096])
    for encoding in ([match.group(1).decode("ascii", "ignore")] if match else []) + ["utf-8"]:
        try:
            return html.decode(encoding)
        except (LookupError, UnicodeDecodeError):
            continue
    return html.decode("utf-8", errors="replace")


def html_to_text(fragment: str) -> str:
    """Visible text of an HTML fragment, one line per block element."""
    import lxml.html

    if not fragment.strip():
        return ""
    root = lxml.html.fromstring(fragment)
    for element in root.xpath("//script|//style|//noscript"):
        if element.getparent() is not None:
            element.drop_tree()
    for element in root.iter():
        if isinstance(element.tag, str) and element.tag in _BLOCKS:
            element.tail = "\n" + (element.tail or "")
            if element.tag != "br":
                element.text = "\n" + (element.text or "")
    lines = (" ".join(line.split()) for line in root.text_content().splitlines())
    return "\n".join(line for line in lines if line)


def _iso(value: Any) -> str | None:
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value) if value else None


def _readability() -> Callable[[bytes, str], Result]:
    from readability import Document

    def run(html: bytes, url: str) -> Result:
        doc = Document(html, url=url)
        return html_to_text(doc.summary(html_partial=True)), doc.short_title() or None, None

    return run


def _newspaper4k() -> Callable[[bytes, str], Result]:
    import newspaper

    def run(html: bytes, url: str) -> Result:
        article = newspaper.Article(url, fetch_images=False)
        article.download(input_html=decode_html(html))
        article.parse()
        return article.text or "", article.title or None, _iso(article.publish_date)

    return run


def _goose3() -> Callable[[bytes, str], Result]:
    from goose3 import Goose

    goose = Goose({"enable_image_fetching": False, "http_timeout": 0.001})

    def run(html: bytes, url: str) -> Result:
        article = goose.extract(url=url, raw_html=decode_html(html))
        return article.cleaned_text or "", article.title or None, _iso(article.publish_date)

    return run


def _news_please() -> Callable[[bytes, str], Result]:
    from newsplease import NewsPlease

    def run(html: bytes, url: str) -> Result:
        article = NewsPlease.from_html(decode_html(html), url=url, fetch_images=False)
        return article.maintext or "", article.title or None, _iso(article.date_publish)

    return run


FACTORIES: dict[str, Callable[[], Callable[[bytes, str], Result]]] = {
    "readability-lxml": _readability,
    "newspaper4k": _newspaper4k,
    "goose3": _goose3,
    "news-please": _news_please,
}


def main() -> None:
    runners: dict[str, Callable[[bytes, str], Result]] = {}
    errors: dict[str, str] = {}
    for name, factory in FACTORIES.items():
        try:
            runners[name] = factory()
        except Exception as err:  # reported to the caller, which leaves the peer out
            errors[name] = f"{type(err).__name__}: {err}"
    out = sys.stdout
    sys.stdout = sys.stderr  # peers that print must not corrupt the protocol
    out.write(json.dumps({"available": sorted(runners), "errors": errors}) + "\n")
    out.flush()
    for line in sys.stdin:
        request = json.loads(line)
        started = time.perf_counter()
        try:
            run = runners[request["peer"]]
            html = base64.b64decode(request["html_b64"])
            started = time.perf_counter()
            text, title, published = run(html, request["url"])
            seconds = time.perf_counter() - started
            reply = {"ok": True, "text": text, "title": title, "published": published, "seconds": seconds}
        except Exception as err:  # one page's failure is a result, not the end of the worker
            seconds = time.perf_counter() - started
            reply = {"ok": False, "error": f"{type(err).__name__}: {err}", "seconds": seconds}
        out.write(json.dumps(reply) + "\n")
        out.flush()


if __name__ == "__main__":
    main()
