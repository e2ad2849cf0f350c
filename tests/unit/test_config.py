from __future__ import annotations

from pathlib import Path

import pytest

from pipelines.config import ConfigError, load_config, parse_config

REPO = Path(__file__).resolve().parents[2]


def test_bundled_local_config_is_valid() -> None:
    config = load_config(REPO / "config" / "local.yaml", feeds_base_url="http://127.0.0.1:8000")
    specs = config.feed_specs()
    assert len(specs) >= 6
    assert all(spec.url.startswith("http://127.0.0.1:8000/feeds/") for spec in specs)
    assert config.http.allow_private_addresses


def test_defaults_refuse_private_addresses() -> None:
    assert not parse_config({}).http_settings().allow_private_addresses


def test_unknown_keys_are_errors_with_their_path() -> None:
    with pytest.raises(ConfigError, match=r"http\.time_out"):
        parse_config({"http": {"time_out": 3}})


def test_feed_without_publisher_is_an_error() -> None:
    with pytest.raises(ConfigError, match=r"feeds\.0\.publisher"):
        parse_config({"feeds": [{"url": "https://ex.org/feed"}]})


def test_relative_feed_needs_a_base_url() -> None:
    config = parse_config({"feeds": [{"url": "/feeds/a.xml", "publisher": "A"}]})
    with pytest.raises(ConfigError, match="feeds_base_url"):
        config.feed_specs()


def test_repeated_feed_urls_are_errors() -> None:
    feed = {"url": "https://ex.org/feed", "publisher": "A"}
    with pytest.raises(ConfigError, match="more than once"):
        parse_config({"feeds": [feed, feed]})


def test_missing_file_and_bad_yaml(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such config file"):
        load_config(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("feeds: [unclosed")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(bad)


def test_url_allowed_lateness_defaults_to_a_day_and_reaches_every_url_dedup() -> None:
    import apache_beam as beam
    from apache_beam.pipeline import PipelineVisitor

    from pipelines.ingest import RunPlan, build_pipeline
    from transforms.dedup_url import DropSeenUrls

    assert parse_config({}).dedup.url_allowed_lateness_s == 86400.0
    with pytest.raises(ConfigError, match=r"dedup\.url_allowed_lateness_s"):
        parse_config({"dedup": {"url_allowed_lateness_s": -1}})
    config = load_config(
        REPO / "config" / "local.yaml", feeds_base_url="http://127.0.0.1:8000", output="/tmp/unused"
    )
    config = config.model_copy(
        update={"dedup": config.dedup.model_copy(update={"url_allowed_lateness_s": 60.0})}
    )

    found: list[float] = []

    class Collect(PipelineVisitor):
        def enter_composite_transform(self, node: beam.pipeline.AppliedPTransform) -> None:
            if isinstance(node.transform, DropSeenUrls):
                found.append(node.transform._lateness_s)

    pipeline = beam.Pipeline()
    build_pipeline(pipeline, config, RunPlan(output="/tmp/unused", duration_s=60.0))
    pipeline.visit(Collect())
    assert found == [60.0, 60.0]  # feed links and canonical URLs


def test_extraction_precision_pass_is_on_by_default_and_can_be_turned_off() -> None:
    assert parse_config({}).extract_settings().precision_pass
    assert not parse_config({"extract": {"precision_pass": False}}).extract_settings().precision_pass
    with pytest.raises(ConfigError, match="precision_pass"):
        parse_config({"extract": {"precision_pass": "sometimes"}})


def test_story_thresholds_reach_the_model_settings() -> None:
    model = parse_config({"stories": {"threshold": 0.7, "sole_threshold": 0.3}}).story_settings().model
    assert (model.join_threshold, model.sole_join_threshold) == (0.7, 0.3)
    with pytest.raises(ConfigError, match="sole_threshold must not exceed"):
        parse_config({"stories": {"threshold": 0.3, "sole_threshold": 0.7}})
