"""The article-extraction-benchmark pages (``../shared/data/extraction-aeb``), gold and scorer.

The scorer reimplements ``evaluate.py`` of scrapinghub/article-extraction-benchmark (the data's
source) exactly: tokens are ``\\w+`` matches (case kept), shingles are 4-token tuples counted
as a multiset (a text of 1-3 tokens is one shorter shingle, an empty text none), per page
TP/FP/FN are normalised by their sum; precision is averaged over the pages with TP+FP > 0
(an empty prediction does not enter the precision mean, it scores recall 0), recall over the
pages with TP+FN > 0, a page with FP = FN = 0 scores 1 for both; F1 is the harmonic mean of
mean precision and mean recall (not the mean of per-page F1s).

Split: ``split_of(id)`` puts a page in ``dev`` or ``test`` by the first byte of
``sha256("newsbeam-aeb:" + id)``, even/odd: deterministic, blind to content.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import re
import statistics
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "data" / "extraction-aeb"
GOLD_DIR = Path(__file__).resolve().parent / "gold"
TITLES_GOLD = GOLD_DIR / "aeb-titles.json"
DATES_GOLD = GOLD_DIR / "aeb-dates.json"
SPLITS = ("dev", "test")
HELD_OUT = "test"

_TOKEN = re.compile(r"\w+", re.UNICODE | re.MULTILINE | re.IGNORECASE | re.DOTALL)


@dataclass(frozen=True)
class Page:
    page_id: str
    url: str
    html: bytes
    body: str  # the hand-made gold text

    @property
    def split(self) -> str:
        return split_of(self.page_id)


def split_of(page_id: str) -> str:
    digest = hashlib.sha256(f"newsbeam-aeb:{page_id}".encode()).digest()
    return SPLITS[digest[0] % 2]


def data_present(data: Path = DATA) -> bool:
    return (data / "ground-truth.json").is_file() and (data / "html").is_dir()


def load_pages(data: Path = DATA) -> list[Page]:
    """All pages, sorted by id, HTML as the raw (decompressed) bytes."""
    truth = json.loads((data / "ground-truth.json").read_text(encoding="utf-8"))
    pages = []
    for page_id in sorted(truth):
        html = gzip.decompress((data / "html" / f"{page_id}.html.gz").read_bytes())
        pages.append(Page(page_id, truth[page_id]["url"], html, truth[page_id].get("articleBody") or ""))
    return pages


# -- scorer ------------------------------------------------------------------------------------

TpFpFn = tuple[float, float, float]


def tokenize(text: str | None) -> list[str]:
    return _TOKEN.findall(text or "")


def shingles(text: str | None, n: int = 4) -> Counter[tuple[str, ...]]:
    tokens = tokenize(text)
    grams = (tuple(tokens[i : i + n]) for i in range(max(1, len(tokens) - n + 1)))
    return Counter(gram for gram in grams if gram)


def shingle_match(true: str | None, pred: str | None, n: int = 4) -> TpFpFn:
    """Per-page TP, FP, FN over shingles, normalised to sum to 1 (all 0 if both are empty)."""
    gold, predicted = shingles(true, n), shingles(pred, n)
    tp = fp = fn = 0.0
    for key in gold.keys() | predicted.keys():
        g, p = gold.get(key, 0), predicted.get(key, 0)
        tp += min(g, p)
        fp += max(0, p - g)
        fn += max(0, g - p)
    total = tp + fp + fn
    if total > 0:
        return tp / total, fp / total, fn / total
    return tp, fp, fn


def precision_score(tp: float, fp: float, fn: float) -> float:
    if fp == fn == 0:
        return 1.0
    if tp == fp == 0:
        return 0.0
    return tp / (tp + fp)


def recall_score(tp: float, fp: float, fn: float) -> float:
    if fp == fn == 0:
        return 1.0
    if tp == fn == 0:
        return 0.0
    return tp / (tp + fn)


@dataclass(frozen=True)
class Prf:
    precision: float
    recall: float
    f1: float
    pages: int


def prf(matches: Sequence[TpFpFn]) -> Prf:
    precisions = [precision_score(*m) for m in matches if m[0] + m[1] > 0]
    recalls = [recall_score(*m) for m in matches if m[0] + m[2] > 0]
    precision = statistics.mean(precisions) if precisions else 0.0
    recall = statistics.mean(recalls) if recalls else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return Prf(precision, recall, f1, len(matches))


# -- title and date gold -----------------------------------------------------------------------


_QUOTES = str.maketrans(
    {
        "\u2018": "'",
        "\u2019": "'",
        "\u201a": "'",
        "\u201b": "'",
        "\u2032": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u201e": '"',
        "\u201f": '"',
        "\u2033": '"',
        "\u00ab": '"',
        "\u00bb": '"',
    }
)


def fold_title(title: str | None) -> str:
    """Case-, whitespace- and quote-folded title (typographic quotes and guillemets become ASCII
    quotes), for exact match; nothing else is folded."""
    return " ".join((title or "").translate(_QUOTES).casefold().split())


def load_gold(path: Path) -> dict[str, dict[str, str]]:
    if not path.is_file():
        return {}
    gold: dict[str, dict[str, str]] = json.loads(path.read_text(encoding="utf-8"))
    return gold


def by_split(items: Iterable[tuple[str, object]]) -> dict[str, list[object]]:
    groups: dict[str, list[object]] = {split: [] for split in SPLITS}
    for page_id, value in items:
        groups[split_of(page_id)].append(value)
    return groups
