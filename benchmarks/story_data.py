"""The two labelled story sets, their dev/held-out splits, and the pipeline's view of them.

Both sets are read from ``../shared/data`` (never copied into the project):

- ``ecbplus`` (``stories-ecbplus-dev``): 496 ECB+ articles, 21 topics of two sub-events each
  (the gold story is the sub-event; the other sub-event of a topic is the hard negative). The
  corpus has no times: every topic gets an onset within a week (a hash of the topic) and each of
  its articles a time uniformly within the 36 hours after it (a hash of the document), blind to
  the sub-event, so **both sub-events of a topic share one 36-hour window** and time cannot tell
  them apart. Title = first sentence (ECB+ has no headlines), text = the whole article.
- ``gva`` (``stories-gva-dev``): 1,871 real local news articles on shootings, 2013-2015, one
  story per incident, with their real publication days. Evaluation only.

Splits (fixed here, before any model was fitted):

- ECB+, by topic: topics in numeric order, every third one (ranks 2, 5, 8, ...) is held out
  (7 topics); the other 14 are the training part, in 3 folds (training-topic rank mod 3) for
  the cross-validated dev figures.
- GVA, by time: articles published from ``GVA_HELD_OUT_FROM`` (2015-07-01) on are held out
  (640); the earlier ones (1,231) are the training part, in 3 folds of consecutive days of
  about equal size. An incident reported on both sides of a boundary is cut in two.

Features must see what the story stage will see, so the articles go through
``newsbeam run --input-jsonl`` once (stories off, near-duplicates off: neither changes title,
text, times or entities) and the written rows are cached as JSON lines under
``$XDG_CACHE_HOME/newsbeam/story-data`` (default ``~/.cache``), keyed by a hash of the backfill
file, the config, the NER model versions and the code that shapes text and entities: switching
the NER model (``entities.models``) re-runs the pipeline on the next use.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import yaml

from pipelines.query import connect
from samples.texts import detokenise_lines
from transforms.records import Article, Entity

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
ECB_DOCS = DATA / "stories-ecbplus-dev" / "docs.jsonl"
GVA_DOCS = DATA / "stories-gva-dev" / "docs.jsonl"
DATASETS = ("ecbplus", "gva")
CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "newsbeam" / "story-data"

ECB_START = datetime(2025, 6, 2, tzinfo=UTC)
ECB_ONSET_SPREAD_H = 7 * 24.0
ECB_TOPIC_WINDOW_H = 36.0
GVA_HELD_OUT_FROM = date(2015, 7, 1)
FOLDS = 3
# Code whose changes can change what the cached rows hold.
SHAPING_CODE = ("transforms/backfill.py", "transforms/extract.py", "transforms/entities.py")


@dataclass(frozen=True)
class LabelledDoc:
    """One labelled article as given to the pipeline."""

    dataset: str
    doc_id: str
    story: str  # gold story
    group: str  # ECB+: the topic (hard negatives = same group, other story); GVA: ""
    split: str  # "train" | "heldout"
    fold: int  # training fold (0..FOLDS-1); -1 when held out
    title: str
    text: str
    published_at: datetime

    @property
    def url(self) -> str:
        return f"https://{self.dataset}.example/{self.doc_id}"


@dataclass(frozen=True)
class PipelineDoc:
    """A labelled article as the pipeline wrote it (title, text, times, language, entities)."""

    doc: LabelledDoc
    article: Article


def missing_data() -> str | None:
    """A message naming the data files that are not there (None: both are)."""
    missing = [str(p) for p in (ECB_DOCS, GVA_DOCS) if not p.exists()]
    return f"needs {', '.join(missing)} (../shared/data beside the project)" if missing else None


def _unit(*parts: object) -> float:
    digest = hashlib.sha256("|".join(map(str, parts)).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def _is_url_line(line: str) -> bool:
    return line.replace(" ", "").lower().startswith(("http:", "https:", "www."))


def ecb_time(topic: int, doc_id: str) -> datetime:
    """Topic onset within a week, the article uniformly within the 36 h after it."""
    onset = ECB_ONSET_SPREAD_H * _unit("topic", topic)
    return ECB_START + timedelta(hours=onset + ECB_TOPIC_WINDOW_H * _unit("doc", doc_id))


def load_ecbplus(path: Path = ECB_DOCS) -> list[LabelledDoc]:
    """Title = first line (sentence), text = the whole article; the URL line heading every ECB+
    (``ecbplus``) file is dropped, as it names the sub-event and is not article text."""
    records = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    topics = sorted({int(r["topic"]) for r in records})
    held = {t for k, t in enumerate(topics) if k % 3 == 2}
    train_rank = {t: k for k, t in enumerate(t for t in topics if t not in held)}
    docs = []
    for r in records:
        topic = int(r["topic"])
        lines = [ln for ln in r["text"].split("\n") if ln.strip() and not _is_url_line(ln)]
        lines = detokenise_lines(lines)
        docs.append(
            LabelledDoc(
                dataset="ecbplus",
                doc_id=r["doc"].removesuffix(".xml"),
                story=r["cluster"],
                group=str(topic),
                split="heldout" if topic in held else "train",
                fold=-1 if topic in held else train_rank[topic] % FOLDS,
                title=lines[0],
                text="\n".join(lines),
                published_at=ecb_time(topic, r["doc"]),
            )
        )
    return docs


def load_gva(path: Path = GVA_DOCS) -> list[LabelledDoc]:
    """Real publication days (midnight UTC: day resolution); folds = consecutive days."""
    records = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    train_days = sorted(date.fromisoformat(r["dct"]) for r in records)
    train_days = [d for d in train_days if d < GVA_HELD_OUT_FROM]
    # fold boundaries: the days at 1/3 and 2/3 of the training articles
    cuts = [train_days[math.ceil(len(train_days) * k / FOLDS)] for k in range(1, FOLDS)]
    docs = []
    for r in records:
        day = date.fromisoformat(r["dct"])
        held = day >= GVA_HELD_OUT_FROM
        docs.append(
            LabelledDoc(
                dataset="gva",
                doc_id=r["doc_id"],
                story=r["incident_id"],
                group="",
                split="heldout" if held else "train",
                fold=-1 if held else sum(day >= c for c in cuts),
                title=(r.get("title") or "").strip(),
                text=r["text"],
                published_at=datetime(day.year, day.month, day.day, tzinfo=UTC),
            )
        )
    return docs


def load(dataset: str) -> list[LabelledDoc]:
    if dataset == "ecbplus":
        return load_ecbplus()
    if dataset == "gva":
        return load_gva()
    raise ValueError(f"unknown dataset {dataset!r}; one of {', '.join(DATASETS)}")


# ----------------------------------------------------------------------------------------------
# Through the pipeline


def backfill_lines(docs: Sequence[LabelledDoc]) -> list[str]:
    """The ``--input-jsonl`` lines: explicit title and text, published = first seen."""
    out = []
    for d in docs:
        when = d.published_at.isoformat()
        line = {
            "url": d.url,
            "publisher": d.dataset,
            "published_at": when,
            "first_seen_at": when,
            "title": d.title or None,
            "text": d.text,
            "language": "en",
        }
        out.append(json.dumps(line, ensure_ascii=False))
    return out


def job_config(stories: dict[str, object] | None, near_duplicates: bool = False) -> dict[str, object]:
    """The job config: every article kept (``min_words`` 0), stories on with the ``stories``
    section (its defaults: ``{}``) or off when None; near-duplicates off unless asked (they
    change no story input)."""
    return {
        "extract": {"min_words": 0},
        "dedup": {"near_duplicates": near_duplicates},
        "write": {"batch_size": 5000, "max_buffering_s": 30},
        "stories": {"enabled": False} if stories is None else {"enabled": True, **stories},
    }


def _model_versions() -> dict[str, str]:
    from importlib import metadata

    from pipelines.config import EntitiesConfig

    out = {}
    for name in sorted(set(EntitiesConfig().models.values())):
        try:
            out[name] = metadata.version(name.replace("_", "-"))
        except metadata.PackageNotFoundError:
            out[name] = "?"
    return out


def run_pipeline(lines: Sequence[str], config: dict[str, object], work: Path) -> list[dict[str, object]]:
    """``newsbeam run --input-jsonl`` over ``lines``; the ``articles`` rows read back."""

    work.mkdir(parents=True, exist_ok=True)
    jsonl, cfg, out = work / "input.jsonl", work / "job.yaml", work / "out"
    jsonl.write_text("\n".join(lines) + "\n", encoding="utf-8")
    cfg.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    cmd = [str(ROOT / ".venv" / "bin" / "newsbeam"), "run", "--input-jsonl", str(jsonl)]
    cmd += ["--config", str(cfg), "--output", str(out)]
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    # the articles view: story_id followed to the story's first article (the files hold parents)
    rows: list[dict[str, object]] = connect(out).sql("SELECT * FROM articles").fetch_arrow_table().to_pylist()
    return rows


def row_json(row: dict[str, object]) -> dict[str, object]:
    """What a benchmark keeps of an ``articles`` row, JSON-ready."""
    keep = ("article_id", "url", "title", "text", "language", "published_at", "first_seen_at")
    out = {k: row[k] for k in keep}
    for k in ("published_at", "first_seen_at"):
        value = out[k]
        out[k] = value.isoformat() if isinstance(value, datetime) else None
    out["entities"] = [[e["text"], e["key"], e["label"], e["count"]] for e in row["entities"] or []]  # type: ignore[attr-defined]
    out["story_id"] = row.get("story_id")
    return out


def _article(row: dict[str, object]) -> Article:
    def when(value: object) -> datetime | None:
        return datetime.fromisoformat(value).astimezone(UTC) if isinstance(value, str) else None

    text = str(row["text"])
    first_seen = when(row["first_seen_at"])
    assert first_seen is not None
    return Article(
        article_id=str(row["article_id"]),
        url=str(row["url"]),
        canonical_url=str(row["url"]),
        feed_url=None,
        publisher=None,
        source_domain="example",
        title=row["title"] if isinstance(row["title"], str) else None,
        description=None,
        text=text,
        authors=(),
        tags=(),
        language=row["language"] if isinstance(row["language"], str) else None,
        published_at=when(row["published_at"]),
        date_source="feed",
        first_seen_at=first_seen,
        word_count=len(text.split()),
        content_hash="",
        entities=tuple(Entity(t, k, lab, n) for t, k, lab, n in row["entities"]),  # type: ignore[attr-defined]
    )


def cache_key(lines: Sequence[str], config: dict[str, object]) -> str:
    h = hashlib.sha256()
    h.update("\n".join(lines).encode())
    h.update(json.dumps(config, sort_keys=True).encode())
    h.update(json.dumps(_model_versions(), sort_keys=True).encode())
    for rel in SHAPING_CODE:
        h.update((ROOT / rel).read_bytes())
    return h.hexdigest()[:16]


def pipeline_docs(dataset: str, refresh: bool = False, verbose: bool = True) -> list[PipelineDoc]:
    """Every article of ``dataset`` as the pipeline writes it (cached; see the module docstring).

    Raises if the pipeline lost or added an article: every labelled article must come back.
    """
    docs = load(dataset)
    lines = backfill_lines(docs)
    config = job_config(None)
    path = CACHE / f"{dataset}-{cache_key(lines, config)}.jsonl"
    if refresh or not path.exists():
        if verbose:
            print(f"running {len(docs)} {dataset} articles through newsbeam run --input-jsonl -> {path}")
        with tempfile.TemporaryDirectory(prefix="newsbeam-story-data-") as tmp:
            rows = [row_json(r) for r in run_pipeline(lines, config, Path(tmp))]
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".partial")
        partial.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
        partial.replace(path)
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    return match_rows(docs, rows)


def match_rows(docs: Sequence[LabelledDoc], rows: Sequence[dict[str, object]]) -> list[PipelineDoc]:
    """Pair the pipeline's rows with the labelled articles (by URL); all must be there, once."""
    by_url = {d.url: d for d in docs}
    out = []
    seen: set[str] = set()
    for row in rows:
        url = str(row["url"])
        if url not in by_url or url in seen:
            raise RuntimeError(f"unexpected or repeated row from the pipeline: {url}")
        seen.add(url)
        out.append(PipelineDoc(by_url[url], _article(row)))
    if len(out) != len(docs):
        missing = sorted(set(by_url) - seen)[:5]
        raise RuntimeError(f"{len(docs) - len(out)} articles lost in the pipeline, e.g. {missing}")
    out.sort(key=lambda p: p.doc.url)
    return out
