"""The command line's conventions: every option's help gives its default, every command has
examples that parse, shell completion works, and `--only` names the valid collections."""

from __future__ import annotations

import argparse
import shlex
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import mapper_cli

from mapper.cli import build_parser

ROOT = Path(__file__).resolve().parent.parent
COMMANDS = ("demo", "init", "lint", "plan", "preview", "run", "validate", "completion")
UNDOCUMENTED = (argparse._HelpAction, argparse._VersionAction, argparse._SubParsersAction)


def _parsers(parser: argparse.ArgumentParser) -> Iterator[tuple[str, argparse.ArgumentParser]]:
    """The parser and each of its subcommands' parsers, by name."""
    yield parser.prog, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            yield from action.choices.items()


def _unhelpful(parser: argparse.ArgumentParser) -> list[str]:
    """What the conventions miss: an option without help, an option that takes a value and
    whose help does not give its default, a command without examples."""
    missing = []
    for name, sub in _parsers(parser):
        formatter = sub._get_formatter()
        if sub is not parser and "examples:\n  mapper " not in (sub.epilog or ""):
            missing.append(f"{name}: no examples")
        for action in sub._actions:
            label = f"{name} {'/'.join(action.option_strings) or action.dest}"
            if isinstance(action, UNDOCUMENTED):
                continue
            if not action.help or action.help == argparse.SUPPRESS:
                missing.append(f"{label}: no help")
            elif (
                action.option_strings
                and action.nargs != 0
                and action.default is not argparse.SUPPRESS  # given before the command
                and "default" not in formatter._expand_help(action)
            ):
                missing.append(f"{label}: help without the default")
    return missing


def test_every_option_has_help_with_its_default_and_every_command_examples() -> None:
    parser = build_parser()
    assert {name for name, _ in _parsers(parser)} >= set(COMMANDS)
    assert _unhelpful(parser) == []


def test_the_check_finds_what_is_missing() -> None:
    parser = argparse.ArgumentParser(prog="mapper")
    commands = parser.add_subparsers()
    bare = commands.add_parser("bare")
    bare.add_argument("--size", type=int)
    bare.add_argument("--limit", type=int, default=5, help="at most this many")
    assert _unhelpful(parser) == [
        "bare: no examples",
        "bare --size: no help",
        "bare --limit: help without the default",
    ]


def test_help_shows_defaults_and_examples() -> None:
    result = mapper_cli("run", "--help")
    assert result.returncode == 0
    words = " ".join(result.stdout.split())  # as wrapped for the terminal
    assert "at once (default 1000)" in words  # --batch-size's, added by the formatter
    assert "(default skip)" in words and "(default: no limit)" in words
    assert "examples:\n  mapper run mappings/" in result.stdout


def _examples() -> Iterator[tuple[str, str]]:
    for name, parser in _parsers(build_parser()):
        for line in (parser.epilog or "").splitlines()[1:]:
            yield name, line.strip()


@pytest.mark.parametrize(("name", "example"), list(_examples()))
def test_each_example_parses(name: str, example: str) -> None:
    words = shlex.split(example)
    if ">" in words:  # a shell redirection
        words = words[: words.index(">")]
    assert words[0] == "mapper"
    args = build_parser().parse_args(words[1:])
    assert name == "mapper" or args.command == name


def test_bash_completion_is_valid_and_completes(tmp_path: Path) -> None:
    result = mapper_cli("completion", "bash")
    assert result.returncode == 0, result.stderr
    script = tmp_path / "mapper.bash"
    script.write_text(result.stdout)
    bash = shutil.which("bash")
    assert bash is not None
    checked = subprocess.run([bash, "-n", script], capture_output=True, text=True, check=False)
    assert checked.returncode == 0, checked.stderr
    for command in COMMANDS:
        assert command in result.stdout

    def complete(*words: str) -> list[str]:
        line = " ".join(shlex.quote(word) for word in words)
        probe = (
            f"source {shlex.quote(str(script))}; COMP_WORDS=({line}); "
            f"COMP_CWORD={len(words) - 1}; _shtab_mapper; printf '%s\\n' \"${{COMPREPLY[@]}}\""
        )
        done = subprocess.run([bash, "-c", probe], capture_output=True, text=True, check=True)
        return done.stdout.split()

    assert complete("mapper", "pl") == ["plan"]
    assert complete("mapper", "run", "--on-") == ["--on-error"]
    assert complete("mapper", "plan", "--format", "") == ["text", "json", "mermaid", "html"]


def test_zsh_completion_names_the_commands() -> None:
    result = mapper_cli("completion", "zsh")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("#compdef mapper")
    for command in COMMANDS:
        assert f"{command}:" in result.stdout


def test_a_shell_without_completion_is_a_usage_error_naming_those_with() -> None:
    """The shells are shtab's (imported by `mapper completion` only), checked when asked."""
    result = mapper_cli("completion", "csh")
    assert result.returncode == 2
    assert "no completion script for `csh`: shtab writes bash, zsh, tcsh" in result.stderr


@pytest.mark.parametrize("command", ["preview", "validate", "run"])
def test_a_wrong_only_lists_the_valid_names(command: str, demo_sqlite: str, tmp_path: Path) -> None:
    target = ("--target", f"file:{tmp_path}") if command != "preview" else ()
    result = mapper_cli(
        command, "mappings/", "--source", demo_sqlite, *target, "--only", "taks", cwd=ROOT
    )
    assert result.returncode == 2, result.stderr
    assert "--only names unknown collections: taks" in result.stderr
    assert "organizations, projects, tasks, users" in result.stderr
    assert list(tmp_path.iterdir()) == []  # nothing written
