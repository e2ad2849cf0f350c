from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from pipelines.cli import build_parser, main


@pytest.mark.parametrize("argv", [[], ["run"], ["demo"], ["query"]])
def test_help_explains_every_command(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as raised:
        main([*argv, "--help"])
    assert raised.value.code == 0
    assert "usage: newsbeam" in capsys.readouterr().out


def test_every_option_has_help() -> None:
    parser = build_parser()
    subparsers = next(a for a in parser._actions if a.dest == "command").choices
    for name, sub in subparsers.items():
        for action in sub._actions:
            if action.dest not in ("help", "samples_command"):
                assert action.help, f"{name} {action.option_strings}"


def test_run_help_names_the_modes(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["run", "--help"])
    text = capsys.readouterr().out
    for flag in ("--config", "--once", "--duration", "--input-jsonl", "--output", "--feeds-base-url"):
        assert flag in text


def test_samples_serve_help(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as raised:
        main(["samples", "serve", "--help"])
    assert raised.value.code == 0
    assert "--replay-every" in capsys.readouterr().out


def test_bad_config_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "job.yaml"
    config.write_text("feeds:\n  - url: /feeds/a.xml\n    publisher: A\n")
    assert main(["run", "--config", str(config), "--output", str(tmp_path / "out")]) == 2
    assert "feeds_base_url" in capsys.readouterr().err


def test_missing_backfill_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = Path(__file__).resolve().parents[2] / "config" / "local.yaml"
    status = main(["run", "--config", str(config), "--input-jsonl", str(tmp_path / "none.jsonl")])
    assert status == 2
    assert "no such file" in capsys.readouterr().err


def test_query_on_empty_output_has_the_views(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["query", "--output", str(tmp_path), "SELECT count(*) AS n FROM articles, failures"]) == 0
    assert "0" in capsys.readouterr().out
    assert main(["query", "--output", str(tmp_path), "SELECT nope FROM articles"]) == 1
    assert "nope" in capsys.readouterr().err


def test_demo_refuses_to_replace_foreign_output(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "precious.txt").write_text("keep me")
    assert main(["demo", "--output", str(tmp_path)]) == 2
    assert (tmp_path / "precious.txt").exists()
    assert "not written by the demo" in capsys.readouterr().err


def test_prism_and_flink_runs_get_a_job_server_timeout_that_outlasts_the_job() -> None:
    from pipelines.cli import JOB_SERVER_TIMEOUT_S, with_job_server_timeout

    prism = ["--runner=PrismRunner", "--prism_location=/x/prism"]
    flink = ["--runner=FlinkRunner", "--flink_master=127.0.0.1:8081"]
    for args in (prism, flink):
        assert with_job_server_timeout(args) == [*args, f"--job_server_timeout={JOB_SERVER_TIMEOUT_S}"]
    assert JOB_SERVER_TIMEOUT_S > 365 * 86400  # Beam's default (300 s) ends a --follow early
    assert with_job_server_timeout([*prism, "--job_server_timeout=60"]) == [*prism, "--job_server_timeout=60"]
    assert with_job_server_timeout(["--runner=FnApiRunner"]) == ["--runner=FnApiRunner"]
    assert with_job_server_timeout([]) == []


def test_ctrl_c_is_noted_even_where_a_runner_handler_comes_first() -> None:
    import os
    import signal
    import threading

    from pipelines.cli import noting_interrupts

    before = signal.getsignal(signal.SIGINT)
    interrupted = threading.Event()
    stopped: list[str] = []

    def run_and_press_ctrl_c() -> None:
        with noting_interrupts(interrupted):
            ours = signal.getsignal(signal.SIGINT)

            def runner_handler(signum: int, frame: object) -> None:  # as Beam's job server installs
                stopped.append("job server")
                ours(signum, frame)  # type: ignore[operator,misc]

            signal.signal(signal.SIGINT, runner_handler)
            os.kill(os.getpid(), signal.SIGINT)

    with pytest.raises(KeyboardInterrupt):
        run_and_press_ctrl_c()
    assert interrupted.is_set()
    assert stopped == ["job server"]
    assert signal.getsignal(signal.SIGINT) is before


def test_fnapi_metrics_are_folded_eagerly() -> None:
    """A run with thousands of bundles per stage (a long --duration run) must not nest one
    generator per bundle: reading its metrics would exceed the recursion limit."""
    from apache_beam.metrics import monitoring_infos
    from apache_beam.runners.portability.fn_api_runner import fn_runner

    from pipelines.cli import eager_fnapi_metrics

    eager_fnapi_metrics()
    eager_fnapi_metrics()  # once is enough: not wrapped twice
    counter = monitoring_infos.int64_user_counter("newsbeam", "n", 1)
    folded = [counter]
    for _ in range(5000):  # what fn_runner does for each bundle of a stage
        folded = fn_runner.consolidate_monitoring_infos(itertools.chain([counter], folded))
    assert [monitoring_infos.extract_counter_value(m) for m in folded] == [5001]
