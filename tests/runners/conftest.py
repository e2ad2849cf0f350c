"""Fixtures for the runner tests (``pytest -m runners tests/runners``, or ``make runners``)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from samples.server import SampleSite


@pytest.fixture(scope="session")
def sample_site() -> Iterator[SampleSite]:
    """The bundled sample site, all items released; shared so article ids agree across runs."""
    with SampleSite() as site:
        yield site
