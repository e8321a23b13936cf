"""Repeatable options take several values after one flag, as a shell glob gives them
(`--gt seg/1/*.seg`, `build -i assets/*.glb`), and nothing else changes meaning."""
from __future__ import annotations

import pytest
import typer
from typer.testing import CliRunner

from partverse.cli.many_values import ManyValuesCommand, spread_values

REPEATABLE, TAKES_VALUE = {"--gt", "-g", "--proposals"}, {"--gt", "-g", "--proposals", "--iou", "--pred"}


@pytest.mark.parametrize("args, expected", [
    (["--gt", "a", "b", "c"], ["--gt", "a", "--gt", "b", "--gt", "c"]),
    (["-g", "a", "b", "--pred", "p", "--proposals", "x", "y"],
     ["-g", "a", "-g", "b", "--pred", "p", "--proposals", "x", "--proposals", "y"]),
    (["--gt=a", "b"], ["--gt=a", "--gt", "b"]),
    (["--gt", "a", "--iou", "-1", "b"], ["--gt", "a", "--iou", "-1", "b"]),  # a value, then a stray word
    (["--gt", "-odd-name.seg", "b"], ["--gt", "-odd-name.seg", "--gt", "b"]),  # the value after the flag is its own
    (["--gt", "a", "--json", "b"], ["--gt", "a", "--json", "b"]),  # a flag ends the run of values
    (["--gt", "a", "--", "b", "--gt"], ["--gt", "a", "--", "b", "--gt"]),
    (["--pred", "p", "q"], ["--pred", "p", "q"]),  # not repeatable: the stray word stays stray
])
def test_words_after_a_repeatable_option_are_more_of_its_values(args, expected):
    assert spread_values(args, REPEATABLE, TAKES_VALUE) == expected


def _app():
    app = typer.Typer()

    @app.command(cls=ManyValuesCommand)
    def main(gt: list[str] = typer.Option(..., "--gt", "-g"), iou: float = typer.Option(0.5, "--iou"),
             as_json: bool = typer.Option(False, "--json")) -> None:
        typer.echo(f"{gt} {iou} {as_json}")

    @app.command("other")
    def other() -> None:  # a second command, so that typer keeps `main` as a named subcommand
        pass

    return app


def test_a_command_reads_a_glob_after_one_flag_and_still_refuses_strays():
    runner = CliRunner()
    result = runner.invoke(_app(), ["main", "--gt", "h1.seg", "h2.seg", "-g", "h3.seg", "--iou", "-1", "--json"])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "['h1.seg', 'h2.seg', 'h3.seg'] -1.0 True"
    stray = runner.invoke(_app(), ["main", "--gt", "h1.seg", "--iou", "0.3", "stray.seg"])
    assert stray.exit_code == 2 and "stray.seg" in stray.output


def test_refused_on_a_command_with_positional_arguments():
    app = typer.Typer()

    @app.command(cls=ManyValuesCommand)
    def main(path: str, gt: list[str] = typer.Option([], "--gt")) -> None:
        pass

    @app.command("other")
    def other() -> None:
        pass

    result = CliRunner().invoke(app, ["main", "x", "--gt", "a", "b"])
    assert isinstance(result.exception, TypeError) and "positional" in str(result.exception)
