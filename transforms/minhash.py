"""MinHash over word shingles: signatures, LSH band values, b-bit estimates and fingerprints.

Pure functions, stable across processes and machines (BLAKE2b and fixed-seed permutations, never
Python's salted ``hash``), used by the near-duplicate stage (``transforms.neardup``).
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

_WORD = re.compile(r"\w+")
_MAX_HASH = np.uint64(0xFFFFFFFF)
_COMBINE = np.uint64(0x9E3779B97F4A7C15)  # odd: 2**64 / golden ratio

Signature = npt.NDArray[np.uint32]


def shingle_words(text: str) -> list[str]:
    """The words of ``text`` for shingling: NFKC, case-folded, punctuation and spacing dropped."""
    return _WORD.findall(unicodedata.normalize("NFKC", text).casefold())


def shingles(words: Sequence[str], size: int = 5) -> set[str]:
    """Word ``size``-shingles; a text shorter than ``size`` words is one shingle (none if empty)."""
    if not words:
        return set()
    if len(words) < size:
        return {" ".join(words)}
    return {" ".join(words[i : i + size]) for i in range(len(words) - size + 1)}


def shingle_hashes(words: Sequence[str], size: int = 5) -> npt.NDArray[np.uint64]:
    """Distinct 64-bit hashes of the word ``size``-shingles, vectorised and stable across processes.

    Each distinct word is hashed once with BLAKE2b (never Python's ``hash``, which is salted
    per process); a shingle's hash combines its words' hashes in order (multiply-add, then the
    SplitMix64 finaliser).  A text shorter than ``size`` words is one shingle, as in ``shingles``.
    """
    if not words:
        return np.empty(0, dtype=np.uint64)
    index: dict[str, int] = {}
    positions = np.fromiter((index.setdefault(w, len(index)) for w in words), dtype=np.intp, count=len(words))
    digests = b"".join(hashlib.blake2b(w.encode("utf-8"), digest_size=8).digest() for w in index)
    word_hashes = np.frombuffer(digests, dtype="<u8")[positions]
    width = min(size, word_hashes.shape[0])
    windows = np.lib.stride_tricks.sliding_window_view(word_hashes, width)
    combined = np.zeros(windows.shape[0], dtype=np.uint64)
    for column in range(width):
        combined = combined * _COMBINE + windows[:, column]
    return np.unique(_mix64(combined))


def _mix64(x: npt.NDArray[np.uint64]) -> npt.NDArray[np.uint64]:
    """SplitMix64's finaliser: every input bit affects every output bit."""
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def permutations(num_perm: int, seed: int) -> tuple[npt.NDArray[np.uint64], npt.NDArray[np.uint64]]:
    """``(a, b)`` of ``num_perm`` multiply-add-shift hash functions, from a fixed seed."""
    rng = np.random.Generator(np.random.PCG64(seed))
    a = rng.integers(1, 2**63, size=num_perm, dtype=np.uint64) * np.uint64(2) + np.uint64(1)  # odd
    b = rng.integers(0, 2**63, size=num_perm, dtype=np.uint64)
    return a, b


def minhash(
    hashes: npt.NDArray[np.uint64],
    perms: tuple[npt.NDArray[np.uint64], npt.NDArray[np.uint64]],
    chunk: int = 4096,
) -> Signature:
    """MinHash signature: per hash function ``h(x) = (a·x + b mod 2⁶⁴) >> 32``, its minimum.

    Vectorised over shingles x functions (in chunks, to bound memory on long texts).  An
    empty input gives the all-ones signature (it matches nothing but another empty text).
    """
    a, b = perms
    signature = np.full(a.shape[0], _MAX_HASH, dtype=np.uint64)
    for start in range(0, hashes.shape[0], chunk):
        x = hashes[start : start + chunk, None]
        values = (x * a[None, :] + b[None, :]) >> np.uint64(32)  # uint64 arithmetic wraps mod 2**64
        np.minimum(signature, values.min(axis=0), out=signature)
    return signature.astype(np.uint32)


def band_values(signature: Signature, bands: int, rows: int) -> list[bytes]:
    """One LSH value per band: an 8-byte hash of the band's rows (equal rows in another band differ)."""
    return [
        hashlib.blake2b(
            signature[band * rows : (band + 1) * rows].astype("<u4").tobytes(),
            digest_size=8,
            person=bytes([band]),
        ).digest()
        for band in range(bands)
    ]


def compact_signature(signature: Signature, bits: int) -> bytes:
    """The low ``bits`` bits of each MinHash value (b-bit MinHash), as bytes."""
    dtype = {8: "<u1", 16: "<u2", 32: "<u4"}[bits]
    return (signature & np.uint32((1 << bits) - 1)).astype(dtype).tobytes()


def jaccard_estimate(a: bytes, b: bytes, bits: int) -> float:
    """Estimated Jaccard similarity from two b-bit signatures.

    Two b-bit values also agree by chance (probability ``2**-bits``), so the raw agreement
    ``p`` is corrected to ``(p - c) / (1 - c)``.
    """
    if not a or len(a) != len(b):
        return 0.0
    dtype = {8: "<u1", 16: "<u2", 32: "<u4"}[bits]
    agree = float(np.mean(np.frombuffer(a, dtype=dtype) == np.frombuffer(b, dtype=dtype)))
    chance = 2.0**-bits
    return min(1.0, max(0.0, (agree - chance) / (1.0 - chance)))


def containment_estimate(jaccard: float, count_a: int, count_b: int) -> float:
    """Share of the smaller shingle set inside the other, from Jaccard and the set sizes.

    ``|A and B| = J * |A or B| = J * (|A| + |B|) / (1 + J)``.
    """
    smaller = min(count_a, count_b)
    if smaller <= 0:
        return 0.0
    return min(1.0, jaccard * (count_a + count_b) / (1.0 + jaccard) / smaller)


def fingerprint(hashes: npt.NDArray[np.uint64]) -> bytes:
    """The sorted distinct low 32 bits of shingle hashes: 4 bytes per shingle, for exact checks.

    Two distinct shingles of texts of ``n`` and ``m`` shingles share their low 32 bits with
    probability about ``n·m / 2**32`` (2e-4 for two 1,000-shingle texts): the Jaccard computed on
    fingerprints is the exact one but for that.
    """
    return np.unique((hashes & _MAX_HASH).astype("<u4")).tobytes()


def fingerprint_similarity(a: bytes, b: bytes) -> tuple[float, float]:
    """``(Jaccard, containment of the smaller in the larger)`` of two fingerprints."""
    left, right = np.frombuffer(a, dtype="<u4"), np.frombuffer(b, dtype="<u4")
    if left.size == 0 or right.size == 0:
        return 0.0, 0.0
    inter = int(np.intersect1d(left, right, assume_unique=True).size)
    return inter / (left.size + right.size - inter), inter / min(left.size, right.size)


def exact_pair_similarity(a: set[str], b: set[str]) -> tuple[float, float]:
    """Exact ``(Jaccard, containment of the smaller in the larger)`` of two shingle sets."""
    if not a or not b:
        return 0.0, 0.0
    inter = len(a & b)
    return inter / len(a | b), inter / min(len(a), len(b))
