"""Bad job configs are refused before the pipeline starts, naming the file, line and problem."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from pipelines.cli import main
from pipelines.config import ConfigError, load_config


def _refused(tmp_path: Path, text: str) -> str:
    path = tmp_path / "job.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as raised:
        load_config(path)
    return str(raised.value)


GOOD_FEED = "  - url: https://ex.org/feed.xml\n    publisher: Ex\n"


@pytest.mark.parametrize(
    ("text", "line", "problem"),
    [
        ("http:\n  timeout_s: 3\n  time_out: 4\n", 3, r"http\.time_out: Extra inputs are not permitted"),
        ("feeds:\n" + GOOD_FEED + "  - publisher: NoUrl\n", 4, r"feeds\.1\.url: Field required"),
        ("feeds:\n" + GOOD_FEED + "  - url: ''\n    publisher: Empty\n", 4, r"feeds\.1\.url: .*at least 1"),
        (
            "feeds:\n  - url: file:///etc/passwd\n    publisher: X\n",
            2,
            r"feeds\.0\.url: .*scheme 'file' is not allowed",
        ),
        ("feeds:\n  - url: ftp://ex.org/feed.xml\n    publisher: X\n", 2, r"scheme 'ftp' is not allowed"),
        ("feeds:\n  - url: 'javascript:alert(1)'\n    publisher: X\n", 2, r"scheme 'javascript'"),
        ("feeds:\n  - url: http://\n    publisher: X\n", 2, r"has no host"),
        ("feeds_base_url: file:///srv/feeds\n", 1, r"feeds_base_url: .*scheme 'file'"),
        ("http:\n  retries: lots\n", 2, r"http\.retries: Input should be a valid integer"),
        ("http:\n  allowed_networks: [10.0.0.0/8, banana]\n", 2, r"'banana' is not a network"),
        ("feeds: just-a-string\n", 1, r"feeds: Input should be a valid list"),
        ("- a\n- b\n", 1, r"the top level must be a mapping"),
    ],
    ids=[
        "unknown-key",
        "missing-url",
        "empty-url",
        "file-scheme",
        "ftp-scheme",
        "javascript-scheme",
        "no-host",
        "file-base-url",
        "wrong-type",
        "bad-network",
        "feeds-not-a-list",
        "top-level-list",
    ],
)
def test_bad_config_names_file_line_and_problem(tmp_path: Path, text: str, line: int, problem: str) -> None:
    message = _refused(tmp_path, text)
    assert re.search(rf"{re.escape(str(tmp_path / 'job.yaml'))}:{line}: .*{problem}", message), message


def test_bad_yaml_names_the_line_and_column(tmp_path: Path) -> None:
    message = _refused(tmp_path, "http:\n  timeout_s: 3\nfeeds: [unclosed\n")
    assert re.search(r"job\.yaml:4:\d+: not valid YAML", message), message
    message = _refused(tmp_path, "http:\n  timeout_s: 3\n   retries: 2\n")
    assert re.search(r"job\.yaml:3:\d+: not valid YAML: .*mapping", message), message


def test_duplicate_keys_are_errors_not_silently_last_wins(tmp_path: Path) -> None:
    message = _refused(tmp_path, "http:\n  allow_private_addresses: false\n  allow_private_addresses: true\n")
    assert message.endswith("job.yaml:3: duplicate key 'allow_private_addresses'")


def test_yaml_alias_bomb_is_refused(tmp_path: Path) -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 9)]  # 10^9 values
    message = _refused(tmp_path, "\n".join(lines) + "\n")
    assert "aliases are expanded" in message


def test_every_problem_is_listed(tmp_path: Path) -> None:
    message = _refused(
        tmp_path, "output: x\nhttp:\n  time_out: 1\nfeeds:\n  - url: ftp://a/b\n    publisher: A\n"
    )
    assert "job.yaml:3: http.time_out" in message
    assert "job.yaml:5: feeds.0.url" in message


def test_cli_refuses_before_building_the_pipeline(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "job.yaml"
    path.write_text("feeds:\n  - url: file:///etc/passwd\n    publisher: X\n", encoding="utf-8")
    assert main(["run", "--config", str(path), "--output", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert f"{path}:2: feeds.0.url" in err
    assert not (tmp_path / "out").exists()
