"""Pure functions of the near-duplicate stage: shingles, MinHash, LSH keys, the confirm rule."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from tests.neardup_corpus import story
from transforms.neardup import (
    ARTICLE,
    PART,
    STARTED,
    BandResult,
    Candidate,
    Check,
    Entry,
    Match,
    NearDupSettings,
    Signer,
    Slot,
    band_keys,
    best_match,
    check_answer,
    compact_signature,
    confirm,
    containment_estimate,
    exact_pair_similarity,
    gathered_parts,
    jaccard_estimate,
    minhash,
    permutations,
    release,
    shingle_hashes,
    shingle_words,
    shingles,
    unexpired,
)

ROOT = Path(__file__).resolve().parents[2]
SETTINGS = NearDupSettings()


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
    signed = Signer(SETTINGS).sign("a", 0.0, text, None)
    code = (
        "import json, sys; from transforms.neardup import Signer, NearDupSettings;"
        "s = Signer(NearDupSettings()).sign('a', 0.0, sys.stdin.read(), None);"
        "print(json.dumps([s.entry.signature.hex(), list(s.keys)]))"
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
    assert json.loads(out.stdout) == [signed.entry.signature.hex(), list(signed.keys)]


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


def test_identical_texts_have_identical_signatures_and_unrelated_ones_share_no_band() -> None:
    signer = Signer(SETTINGS)
    a = signer.sign("a", 0.0, " ".join(story(1)), None)
    b = signer.sign("b", 0.0, " ".join(story(1)), None)
    c = signer.sign("c", 0.0, " ".join(story(2)), None)
    assert a.entry.signature == b.entry.signature and a.keys == b.keys
    assert len(a.keys) == SETTINGS.bands
    assert not set(a.keys) & set(c.keys)
    assert jaccard_estimate(a.entry.signature, c.entry.signature, SETTINGS.signature_bits) < 0.1


def test_band_keys_name_their_band() -> None:
    signature = np.zeros(128, dtype=np.uint32)  # every band has the same rows
    keys = band_keys(signature, 32, 2)
    assert len(set(keys)) == 32
    assert keys[3].startswith("03:")


def test_a_trimmed_copy_shares_bands_and_is_confirmed() -> None:
    signer = Signer(SETTINGS)
    paragraphs = story(5, paragraphs=10)
    full = signer.sign("a", 0.0, "\n\n".join(paragraphs), None).entry
    trimmed = signer.sign("b", 1.0, "\n\n".join(paragraphs[:8]), None).entry
    assert best_match(trimmed, [full], False, SETTINGS).match is not None


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
    signer = Signer(SETTINGS)
    story_signed = signer.sign("story", 1.0, "\n\n".join(one), None)
    page_signed = signer.sign("page", 0.0, "\n\n".join(page), None)
    found = best_match(story_signed.entry, [page_signed.entry], False, SETTINGS)
    assert found.match is None
    # the estimates alone do not decide it (the Jaccard is close to the 0.2 floor): the exact
    # check on the fingerprints rejects it
    assert [c.article_id for c in found.check] == ["page"]
    request = Check("story@1000000", 1.0, story_signed.fingerprint, found.check[0])
    assert check_answer(request, page_signed.fingerprint, SETTINGS) is None
    # whereas a brief holding the first two paragraphs of a six-paragraph story is a copy
    full = story(20, paragraphs=6)
    brief = signer.sign("brief", 1.0, "\n\n".join(full[:3]), None)
    original = signer.sign("full", 0.0, "\n\n".join(full), None)
    copy = best_match(brief.entry, [original.entry], False, SETTINGS)
    if copy.match is None:  # undecided on the estimates: the exact check confirms it
        assert [c.article_id for c in copy.check] == ["full"]
        answer = check_answer(
            Check("brief@1000000", 1.0, brief.fingerprint, copy.check[0]), original.fingerprint, SETTINGS
        )
        assert answer is not None and answer.article_id == "full" and answer.score > 0.95


def test_best_match_is_the_earliest_confirmed_earlier_entry_within_the_ttl() -> None:
    text = " ".join(story(7))
    signer = Signer(SETTINGS)
    sig = signer.sign("x", 0.0, text, None).entry.signature
    other = signer.sign("y", 0.0, " ".join(story(8)), None).entry.signature
    day = 86400.0
    me = Entry("m", 10 * day, sig, 300)
    stored = [
        Entry("too-old", 2 * day, sig, 300),  # 8 days before: beyond the 7-day TTL
        Entry("unrelated", 4 * day, other, 300),
        Entry("b", 5 * day, sig, 300),
        Entry("a", 5 * day, sig, 300),  # same time as b: the smaller id is earlier
        Entry("c", 6 * day, sig, 300),
        Entry("later", 11 * day, sig, 300),
    ]
    match = best_match(me, stored, False, SETTINGS).match
    assert match is not None and (match.article_id, match.exact) == ("a", False)
    assert match.score == pytest.approx(1.0)
    copies = [e for e in stored if e.article_id != "unrelated"]  # under an exact key, all are copies
    exact = best_match(me, copies, True, SETTINGS).match
    assert exact is not None and (exact.article_id, exact.score, exact.exact) == ("a", 1.0, True)
    assert best_match(Entry("first", 0.0, sig, 300), stored, False, SETTINGS) == BandResult(None, ())


def test_unexpired_keeps_what_a_late_record_may_still_match() -> None:
    s = replace(SETTINGS, ttl_s=100.0, allowed_lateness_s=50.0)
    entries = [Entry("a", 0.0, b"", 1), Entry("b", 60.0, b"", 1)]
    assert [e.article_id for e in unexpired(entries, 149.0, s)] == ["a", "b"]
    assert [e.article_id for e in unexpired(entries, 151.0, s)] == ["b"]


def test_settings_are_checked() -> None:
    with pytest.raises(ValueError, match="bands x rows"):
        NearDupSettings(bands=40, rows=4)
    with pytest.raises(ValueError, match="signature_bits"):
        NearDupSettings(signature_bits=12)
    with pytest.raises(ValueError, match="jaccard_threshold"):
        NearDupSettings(jaccard_threshold=1.5)


def test_release_compares_in_time_order_and_keeps_later_entries_buffered() -> None:
    sig = Signer(SETTINGS).sign("x", 0.0, " ".join(story(9)), None).entry.signature
    late_copy, copy, original, future = (
        Entry("late-copy", 300.0, sig, 300),
        Entry("copy", 200.0, sig, 300),
        Entry("original", 100.0, sig, 300),
        Entry("future", 900.0, sig, 300),
    )
    slots = [Slot(e, False) for e in (late_copy, copy, future, original)]  # arrival order
    done = release(slots, 500.0, False, SETTINGS)
    assert [(e.article_id, r.match.article_id if r.match else None) for e, r in done.results] == [
        ("original", None),
        ("copy", "original"),
        ("late-copy", "original"),
    ]
    assert [(s.entry.article_id, s.released) for s in done.slots] == [
        ("original", True),
        ("copy", True),
        ("late-copy", True),
        ("future", False),
    ]
    assert done.changed and done.late == 0
    # an entry released behind a later one is counted late, compared with what is stored
    again = release([*done.slots, Slot(Entry("early", 50.0, sig, 300), False)], 950.0, False, SETTINGS)
    assert again.late == 1
    assert [(e.article_id, r.match.article_id if r.match else None) for e, r in again.results] == [
        ("early", None),
        ("future", "early"),
    ]
    # an idle key's wake-up after the TTL and the lateness frees everything
    idle = release(again.slots, 900.0 + SETTINGS.ttl_s + SETTINGS.allowed_lateness_s, False, SETTINGS)
    assert idle.results == [] and idle.slots == [] and idle.changed


def test_gathered_parts_fold_to_the_earliest_match() -> None:
    article = object()
    items = [
        (STARTED, 12.0),
        (PART, BandResult(None)),
        (PART, BandResult(Match(200.0, "b", 0.7, False), (Candidate(50.0, "z", None),))),
        (ARTICLE, (article, 4)),
        (PART, BandResult(Match(100.0, "a", 0.9, False), (Candidate(150.0, "y", 0.6),))),
        (PART, (Match(100.0, "a", 1.0, True), ())),  # plain tuples, as a coder may give them back
    ]
    gathered = gathered_parts(items)
    assert (gathered.article, gathered.expected, gathered.parts, gathered.started) == (article, 4, 4, 12.0)
    assert gathered.best == Match(100.0, "a", 1.0, True)
    # undecided pairs from every key, only those earlier than the best match
    assert gathered.check == (Candidate(50.0, "z", None),)
    assert gathered_parts(items[:3]).article is None
