"""The story benchmark's dev diagnosis (``benchmarks.story_eval``): pure functions on a toy stream."""

from __future__ import annotations

import numpy as np

from benchmarks.story_eval import LOSS_KINDS, Stream, recall_losses

HOUR = 3600.0


def toy_stream(
    rows: list[tuple[int, int, float]], stories: list[str], hours: list[float]
) -> tuple[Stream, np.ndarray]:
    """A stream of ``len(stories)`` articles and candidate rows ``(later, earlier, score)``."""
    n = len(stories)
    stream = Stream(
        name="toy",
        dataset="toy",
        ids=[f"a{i}" for i in range(n)],
        ts=[h * HOUR for h in hours],
        story=stories,
        group=[""] * n,
        vectors=[],
        cand_i=np.array([r[0] for r in rows], dtype=np.int64),
        cand_j=np.array([r[1] for r in rows], dtype=np.int64),
        features=np.zeros((len(rows), 0)),
        label=np.array([stories[i] == stories[j] for i, j, _ in rows], dtype=np.float64),
    )
    return stream, np.array([r[2] for r in rows])


def test_recall_losses_name_what_happened_to_each_later_article() -> None:
    stories = ["A", "A", "B", "B", "B", "B", "B", "A"]
    hours = [0, 1, 2, 3, 4, 5, 6, 1000]
    rows = [
        (1, 0, 0.9),  # joins its story's first article
        (3, 0, 0.95),  # joins the other story
        (3, 2, 0.5),
        # article 4: no candidate at all
        (5, 2, 0.2),  # its story's candidate scores below the sole threshold
        (6, 2, 0.5),  # two candidates reach the sole threshold, neither the join threshold
        (6, 0, 0.4),
        # article 7: its story's latest earlier article is 999 hours before (window 336)
    ]
    stream, scores = toy_stream(rows, stories, hours)
    losses = recall_losses(stream, scores, (0.85, 0.275), 336.0)
    assert losses == {
        LOSS_KINDS[0]: 1,
        LOSS_KINDS[1]: 1,
        LOSS_KINDS[2]: 1,
        LOSS_KINDS[3]: 1,
        LOSS_KINDS[4]: 1,
        LOSS_KINDS[5]: 1,
    }
