"""Fixtures for the runner tests (``pytest -m runners tests/runners``, or ``make runners``)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from samples.server import SampleSite
from tests.runners.support import Run, newsbeam_run, once_args


@pytest.fixture(scope="session")
def sample_site() -> Iterator[SampleSite]:
    """The bundled sample site, all items released; shared so article ids agree across runs."""
    with SampleSite() as site:
        yield site


@pytest.fixture(scope="session")
def reference_run(sample_site: SampleSite, tmp_path_factory: pytest.TempPathFactory) -> Run:
    """A bounded run over the sample site on the default runner (the FnApiRunner, one worker):
    what every other runner's output is compared with."""
    return newsbeam_run(once_args(sample_site.base_url), tmp_path_factory.mktemp("reference") / "out")
