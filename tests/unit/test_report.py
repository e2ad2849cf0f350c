"""``newsbeam report``: the page's content and its escaping, without a browser."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path

import pytest

from pipelines.cli import main
from pipelines.report import NoData, collect, nice_step, render, safe_url, write_report
from tests.output_factory import G7, HOSTILE, KURSK, QUAKE, newsroom, write_output

WHEN = datetime(2025, 6, 18, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def output(tmp_path_factory: pytest.TempPathFactory) -> Path:
    articles, failures = newsroom()
    return write_output(tmp_path_factory.mktemp("out"), articles, failures)


@pytest.fixture(scope="module")
def page(output: Path) -> str:
    return render(collect(output, generated_at=WHEN))


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def _parse(page: str) -> _Tags:
    parser = _Tags()
    parser.feed(page)
    return parser


def test_stories_show_headline_and_other_outlets_titles(page: str) -> None:
    text = "".join(_parse(page).text)
    kursk = text.index(KURSK)
    assert "4 articles from 3 outlets" in text
    for related in (
        "Pyongyang sends deminers and builders to Kursk",
        "Shoigu: Kim agrees to send 6,000 to Kursk",
        "Kursk: more on the North Korean workers",
    ):
        assert text.index(related) > kursk
    assert text.index(G7) > kursk
    assert QUAKE in text


def test_the_page_is_self_contained_and_has_no_script(page: str) -> None:
    tags = _parse(page).tags
    assert "script" not in {tag for tag, _ in tags}
    assert not [attrs for _, attrs in tags if any(k.startswith("on") for k in attrs)]
    assert not [attrs["src"] for tag, attrs in tags if "src" in attrs]
    assert not [a for tag, a in tags if tag == "link"]
    csp = [
        a["content"] for tag, a in tags if tag == "meta" and a.get("http-equiv") == "Content-Security-Policy"
    ]
    assert csp
    assert "default-src 'none'" in csp[0]
    assert page.count("<svg") == 3  # volume, entities, failures


def test_attacker_controlled_text_is_escaped(page: str) -> None:
    assert HOSTILE not in page
    assert "<script>window.__pwned" not in page
    assert "&lt;script&gt;window.__pwned=1&lt;/script&gt;&lt;img src=x onerror=&quot;" in page
    assert HOSTILE in "".join(_parse(page).text)
    assert "&lt;b&gt;bad&lt;/b&gt; feed" in page  # a failure message
    links = [a["href"] for tag, a in _parse(page).tags if tag == "a"]
    assert links
    assert all(link and link.startswith(("https://", "http://")) for link in links)
    assert "javascript:" not in page


def test_charts_hold_the_numbers(page: str) -> None:
    assert "2025-06-16 · Harbor Times: 2</title>" in page
    assert "Kim Jong Un · 2025-06-17: 2 mentions</title>" in page
    assert "fetch / http_404: 2</title>" in page
    assert re.search(r"<b>9</b><span>articles</span>", page)
    assert re.search(r"<b>5</b><span>stories</span>", page)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://a.example/x", "https://a.example/x"),
        ("http://a.example", "http://a.example"),
        ("javascript:alert(1)", None),
        (" JavaScript:alert(1)", None),
        ("data:text/html,<b>", None),
        ("//evil.example/x", None),
        (None, None),
    ],
)
def test_safe_url(url: str | None, expected: str | None) -> None:
    assert safe_url(url) == expected


def test_nice_step() -> None:
    assert [nice_step(n) for n in (0, 3, 30, 95, 1234)] == [1.0, 1.0, 10.0, 50.0, 500.0]


def test_empty_tables_render_placeholders(tmp_path: Path) -> None:
    _, failures = newsroom()
    only_failures = write_output(tmp_path, [], failures)
    page = render(collect(only_failures, generated_at=WHEN))
    assert "No articles yet." in page
    assert "No stories yet." in page
    assert "fetch / http_404" in page


def test_no_output_is_an_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(NoData):
        collect(tmp_path)
    assert main(["report", "--output", str(tmp_path), "--to", str(tmp_path / "r.html")]) == 1
    assert "no newsbeam output" in capsys.readouterr().err
    assert not (tmp_path / "r.html").exists()


def test_cli_writes_the_file(output: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "sub" / "report.html"
    assert main(["report", "--output", str(output), "--to", str(target), "--top", "1"]) == 0
    assert f"wrote {target}" in capsys.readouterr().out
    page = target.read_text(encoding="utf-8")
    assert html.escape(KURSK) in page
    assert html.escape(G7) not in page
    assert write_report(output, target, generated_at=WHEN) == target
    assert not list(target.parent.glob(".*.tmp"))
