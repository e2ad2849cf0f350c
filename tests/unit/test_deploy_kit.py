"""The deployment kit: every shipped config validates, and the image copies what exists."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from pipelines.config import load_config

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("name", sorted(p.name for p in (ROOT / "config").glob("*.yaml")))
def test_shipped_configs_validate(name: str) -> None:
    config = load_config(ROOT / "config" / name, feeds_base_url="http://127.0.0.1:8765")
    assert config.feed_specs()
    if name in ("flink.yaml", "dataflow.yaml"):
        assert config.follow and not config.http.allow_private_addresses
        assert "://" in config.output and not config.polling.reload_feeds


def test_dockerfile_copies_files_that_exist_and_pins_the_beam_version() -> None:
    dockerfile = (ROOT / "deploy" / "Dockerfile").read_text()
    for line in re.findall(r"^COPY (?!--from)(.+) \S+$", dockerfile, flags=re.MULTILINE):
        for source in line.split():
            assert (ROOT / source).exists(), source
    pinned = re.search(r"^apache-beam==(\S+)$", (ROOT / "constraints.txt").read_text(), re.MULTILINE)
    assert pinned and f"ARG BEAM_VERSION={pinned.group(1)}" in dockerfile
    entry = re.search(r"FLEX_TEMPLATE_PYTHON_PY_FILE=/opt/newsbeam/(\S+)", dockerfile)
    assert entry and (ROOT / entry.group(1)).is_file()
    assert json.loads((ROOT / "deploy" / "metadata.json").read_text())["parameters"][0]["name"] == "config"
