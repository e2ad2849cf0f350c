"""Pure functions of the near-duplicate stage: shingles, MinHash, LSH, the confirm rule, the
comparison of two band entries and the decision from an article's edges."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.neardup_corpus import article, misjudged_pairs, story
from transforms.keyed import Edge, Stored
from transforms.minhash import (
    band_values,
    compact_signature,
    exact_pair_similarity,
    jaccard_estimate,
    minhash,
    permutations,
    shingle_hashes,
    shingle_words,
    shingles,
)
from transforms.neardup import (
    EXACT,
    FINGERPRINT,
    NEAR,
    NO_ESTIMATE,
    VERIFY,
    BandComparison,
    Match,
    NearDupSettings,
    Signer,
    confirm,
    containment_estimate,
    duplicate_of,
    fingerprint_key,
    reference_marks,
)

ROOT = Path(__file__).resolve().parents[2]
SETTINGS = NearDupSettings()
DAY_US = 86400 * 1_000_000


def test_shingle_words_ignore_case_punctuation_and_spacing() -> None:
    assert shingle_words("The  Minister's “budget” —\tPASSED, 12-3.") == shingle_words(
        "the minister's budget passed 12 3"
    )
    assert shingle_words("\uff26\uff55\uff4c\uff4c width") == ["full", "width"]  # NFKC: full-width letters


def test_shingles_of_short_and_long_texts() -> None:
    words = ["a", "b", "c", "d", "e", "f", "g"]
    assert shingles(words, 5) == {"a b c d e", "b c d e f", "c d e f g"}
    assert shingles(["a", "b"], 5) == {"a b"}
    assert shingles([], 5) == set()


def test_shingle_hashes_count_distinct_shingles() -> None:
    words = shingle_words(" ".join(story(1)) + " " + " ".join(story(1)[:2]))  # repeated paragraphs
    assert len(shingle_hashes(words, 5)) == len(shingles(words, 5))
    assert len(shingle_hashes(["a", "b"], 5)) == 1
    assert len(shingle_hashes([], 5)) == 0
    # order matters inside a shingle
    assert set(shingle_hashes(["a", "b", "c", "d", "e"])) != set(shingle_hashes(["e", "d", "c", "b", "a"]))


def test_signature_and_band_keys_are_the_same_in_another_process() -> None:
    """Stable hashing: a fresh interpreter with another hash seed computes the same keys."""
    text = " ".join(story(3))
    signed = Signer(SETTINGS).sign("a", 0, text, None)
    code = (
        "import json, sys; from transforms.neardup import Signer, NearDupSettings;"
        "s = Signer(NearDupSettings()).sign('a', 0, sys.stdin.read(), None);"
        "print(json.dumps([[k, e.tag.hex(), e.payload.hex()] for k, e in s.entries]))"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    out = subprocess.run(
        [sys.executable, "-c", code],
        input=text,
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
        env=env,
    )
    assert json.loads(out.stdout) == [[k, e.tag.hex(), e.payload.hex()] for k, e in signed.entries]


def _overlapping_pair(rng: random.Random, jaccard: float, size: int = 400) -> tuple[set[str], set[str]]:
    shared = round(2 * jaccard * size / (1 + jaccard))
    a = {f"s{rng.random()}" for _ in range(size)}
    common = set(rng.sample(sorted(a), shared))
    b = common | {f"t{rng.random()}" for _ in range(size - shared)}
    return a, b


@pytest.mark.parametrize("bits", [8, 16, 32])
def test_jaccard_estimate_is_close_to_the_exact_value(bits: int) -> None:
    rng = random.Random(bits)
    perms = permutations(128, SETTINGS.seed)
    errors = []
    for target in np.linspace(0.0, 1.0, 21):
        for _ in range(3):
            a, b = _overlapping_pair(rng, float(target))
            exact, _ = exact_pair_similarity(a, b)
            sig_a = compact_signature(minhash(_hash_set(a), perms), bits)
            sig_b = compact_signature(minhash(_hash_set(b), perms), bits)
            errors.append(jaccard_estimate(sig_a, sig_b, bits) - exact)
    # 128 values: standard error <= 0.045; the mean error shows a bias (none expected)
    assert abs(float(np.mean(errors))) < 0.015
    assert float(np.sqrt(np.mean(np.square(errors)))) < 0.05
    assert max(abs(e) for e in errors) < 0.15


def _hash_set(items: set[str]) -> np.ndarray:
    return shingle_hashes(sorted(items), 1)  # one-word shingles: one hash per item


def _hash_set(items: set[str]) -> np.ndarray:
    return shingle_hashes(sorted(items), 1)  # one-word shingles: one hash per item


def _bands(signed_entries: tuple[tuple[str, Stored], ...]) -> dict[str, Stored]:
    return {key: entry for key, entry in signed_entries if key.startswith("b")}


def test_identical_texts_have_identical_entries_and_unrelated_ones_share_no_band() -> None:
    signer = Signer(SETTINGS)
    a = signer.sign("a", 0, " ".join(story(1)), "h1")
    b = signer.sign("b", 0, " ".join(story(1)), "h1")
    c = signer.sign("c", 0, " ".join(story(2)), "h2")
    assert [(k, e.tag, e.payload) for k, e in a.entries] == [(k, e.tag, e.payload) for k, e in b.entries]
    assert len(_bands(a.entries)) == SETTINGS.bands and a.entries[0][0].startswith("x:")
    assert not {e.tag for e in _bands(a.entries).values()} & {e.tag for e in _bands(c.entries).values()}
    assert a.payload is not None and c.payload is not None
    assert jaccard_estimate(a.payload.signature, c.payload.signature, SETTINGS.signature_bits) < 0.1


def test_band_values_differ_between_bands_with_equal_rows() -> None:
    signature = np.zeros(128, dtype=np.uint32)  # every band has the same rows
    assert len(set(band_values(signature, 32, 2))) == 32


def test_short_texts_get_only_the_exact_copy_key() -> None:
    signed = Signer(SETTINGS).sign("a", 0, "Markets closed higher on Friday.", "h")
    assert [k[:2] for k, _ in signed.entries] == ["x:"] and not signed.near and not signed.fingerprint


def _compare(earlier: tuple[str, int, str], later: tuple[str, int, str]) -> list[Edge]:
    """The edges two texts' shared band keys give (each pair compared in every key it shares)."""
    signer = Signer(SETTINGS)
    comparison = BandComparison(SETTINGS)
    a, b = (_bands(signer.sign(i, ts, text, None).entries) for i, ts, text in (earlier, later))
    edges = [comparison.compare(k, a[k], b[k]) for k in sorted(a.keys() & b.keys()) if a[k].tag == b[k].tag]
    return [e for e in edges if e is not None]


def test_a_trimmed_copy_is_confirmed_once_in_the_first_band_it_shares() -> None:
    paragraphs = story(5, paragraphs=10)
    edges = _compare(("a", 0, "\n\n".join(paragraphs)), ("b", 1, "\n\n".join(paragraphs[:8])))
    assert len(edges) == 1 and (edges[0].kind, edges[0].other_id, edges[0].other_ts) == (NEAR, "a", 0)


def test_the_exact_copy_key_links_any_two_entries() -> None:
    comparison = BandComparison(SETTINGS)
    edge = comparison.compare("x:1f", Stored("a", 5, b"h", b""), Stored("b", 9, b"h", b""))
    assert edge == Edge(EXACT, "a", 5, 1.0)


def test_containment_estimate_from_jaccard_and_counts() -> None:
    # A (100 shingles) inside B (400): J = 100 / 400
    assert containment_estimate(0.25, 100, 400) == pytest.approx(1.0)
    assert containment_estimate(0.25, 400, 100) == pytest.approx(1.0)
    # half of A (50 of 100) in B (200): J = 50 / 250
    assert containment_estimate(0.2, 100, 200) == pytest.approx(0.5)
    assert containment_estimate(0.0, 100, 200) == 0.0
    assert containment_estimate(0.5, 0, 200) == 0.0


def test_confirm_rule() -> None:
    assert confirm(0.5, 0.6, SETTINGS) == 0.5
    assert confirm(0.49, 0.6, SETTINGS) is None
    assert confirm(0.3, 0.85, SETTINGS) == 0.85  # a trimmed copy: most of it is in the original
    assert confirm(0.19, 1.0, SETTINGS) is None  # aggregator guard: contained but little shared
    assert confirm(0.25, 0.79, SETTINGS) is None


def test_an_aggregator_page_is_not_a_duplicate_of_the_stories_it_holds() -> None:
    """A page listing six stories contains each one fully, but shares under 20% with any."""
    stories = [story(seed, paragraphs=4) for seed in range(10, 16)]
    page = [p for s in stories for p in s]
    one = stories[0]
    jaccard, containment = exact_pair_similarity(
        shingles(shingle_words(" ".join(one))), shingles(shingle_words(" ".join(page)))
    )
    assert containment > 0.95 and jaccard < 0.2
    assert confirm(jaccard, containment, SETTINGS) is None
    # the estimates alone do not decide it (the Jaccard is close to the 0.2 floor): the pair is
    # checked exactly, and the fingerprints reject it
    edges = _compare(("page", 0, "\n\n".join(page)), ("story", 1, "\n\n".join(one)))
    assert [(e.kind, e.other_id) for e in edges] == [(VERIFY, "page")]
    signer = Signer(SETTINGS)
    page_print = signer.fingerprint("\n\n".join(page))
    answer = Edge(FINGERPRINT, "page", 0, 0.0, page_print)
    mine = signer.fingerprint("\n\n".join(one))
    assert duplicate_of([*edges, answer], lambda: mine, SETTINGS) == (None, 1, 0)


def test_pairs_the_estimates_misjudge_are_decided_by_the_exact_check() -> None:
    signer = Signer(SETTINGS)
    for is_copy, (original, copy) in misjudged_pairs().items():
        edges = _compare(("o", 0, "\n\n".join(original)), ("c", 1, "\n\n".join(copy)))
        assert [e.kind for e in edges] == [VERIFY]
        answer = Edge(FINGERPRINT, "o", 0, 0.0, signer.fingerprint("\n\n".join(original)))
        mine = signer.fingerprint("\n\n".join(copy))
        match, checked, estimated = duplicate_of([*edges, answer], lambda m=mine: m, SETTINGS)
        assert (match is not None, checked, estimated) == (is_copy, 1, 0)
        # without the fingerprint the estimate decides (wrongly, for these pairs)
        on_estimate, _, estimated = duplicate_of(edges, lambda m=mine: m, SETTINGS)
        assert (on_estimate is not None, estimated) == (not is_copy, 1)


def test_duplicate_of_is_the_earliest_confirmed_match() -> None:
    def never() -> bytes:
        raise AssertionError("no exact check is needed")

    edges = [
        Edge(NEAR, "c", 30, 0.7),
        Edge(NEAR, "b", 20, 0.9),
        Edge(EXACT, "b", 20, 1.0),  # the same article as an exact copy: preferred
        Edge(NEAR, "a", 20, 0.6),  # same time as b: the smaller id is earlier
        Edge(VERIFY, "z", 40, NO_ESTIMATE),  # later than the best: not checked
    ]
    assert duplicate_of(edges, never, SETTINGS) == (Match(20, "a", 0.6, False), 0, 0)
    assert duplicate_of(edges[:3], never, SETTINGS) == (Match(20, "b", 1.0, True), 0, 0)
    assert duplicate_of([], never, SETTINGS) == (None, 0, 0)
    # an earlier undecided pair whose fingerprint did not come: its estimate decides
    assert duplicate_of([*edges, Edge(VERIFY, "y", 5, 0.55)], never, SETTINGS) == (
        Match(5, "y", 0.55, False),
        0,
        1,
    )


def test_fingerprint_keys_group_an_hour_of_articles() -> None:
    hour = 3600 * 1_000_000
    assert fingerprint_key("a", 5 * hour).split(":")[1] == "5"
    assert fingerprint_key("a", 5 * hour) == fingerprint_key("a", 6 * hour - 1)
    assert len({fingerprint_key(str(i), 0) for i in range(1000)}) == 64


def test_reference_marks_follow_the_ttl_and_the_time_order() -> None:
    text = story(7, paragraphs=10)
    articles = [
        (0, article("first", text, 0.0)),
        (3 * DAY_US, article("copy", text[:9], 0.0)),
        (3 * DAY_US, article("a-copy", text[:8], 0.0)),  # same time as "copy": earlier by id
        (10 * DAY_US, article("later", text, 0.0)),  # 10 days after "first", 7 after the copies
        (20 * DAY_US, article("afresh", text, 0.0)),  # beyond the 7-day TTL of every other
    ]
    marks = reference_marks(articles, SETTINGS)
    found = {k: (m.article_id if m else None) for k, m in marks.items()}
    assert found == {"first": None, "a-copy": "first", "copy": "first", "later": None, "afresh": None}


def test_settings_are_checked() -> None:
    with pytest.raises(ValueError, match="bands x rows"):
        NearDupSettings(bands=40, rows=4)
    with pytest.raises(ValueError, match="signature_bits"):
        NearDupSettings(signature_bits=12)
    with pytest.raises(ValueError, match="jaccard_threshold"):
        NearDupSettings(jaccard_threshold=1.5)
    with pytest.raises(ValueError, match="key_bits"):
        NearDupSettings(key_bits=30)
