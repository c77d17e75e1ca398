"""Every option and argument of every `imgsearch` command is explained in its `--help`
(`imgsearch flags -n` had no help text at all)."""

from __future__ import annotations

import re

import click

from cli.main import cli


def commands() -> list[tuple[str, click.Command]]:
    """Every command of the tree with its full name (``imgsearch eval run``), groups too."""
    found: list[tuple[str, click.Command]] = []

    def walk(command: click.Command, name: str, parent: click.Context | None) -> None:
        found.append((name, command))
        if isinstance(command, click.Group):
            ctx = click.Context(command, parent=parent, info_name=name.rsplit(" ", 1)[-1])
            for sub in command.list_commands(ctx):
                child = command.get_command(ctx, sub)
                assert child is not None, f"{name} {sub} is listed but cannot be loaded"
                walk(child, f"{name} {sub}", ctx)

    walk(cli, "imgsearch", None)
    return found


def test_every_option_and_argument_of_every_command_has_help() -> None:
    found = commands()
    assert len(found) > 25  # the lazy commands were loaded, not only the group
    missing = []
    for name, command in found:
        ctx = click.Context(command, info_name=name)
        shown = command.get_help(ctx)
        for param in command.params:
            if isinstance(param, click.Option):
                if param.hidden:
                    continue
                if not (param.help or "").strip():
                    missing.append(f"{name} {'/'.join(param.opts)}")
            elif isinstance(param, click.Argument):
                # arguments are explained in the command's text, by their metavar
                words = {param.make_metavar(ctx).strip(".[]"), (param.name or "").upper()}
                words |= {w[:-1] for w in words if w.endswith("S")}  # PATHS: "each PATH"
                text = command.help or ""
                if not any(w and re.search(rf"\b{re.escape(w)}\b", text) for w in words):
                    missing.append(f"{name} argument {param.name}")
        assert "Show this message and exit." in shown, name
    assert not missing, "no help text: " + ", ".join(missing)


def test_min_score_help_names_the_score_it_filters_on() -> None:
    """`--min-score` filters on `score`, the rank score (as the API's `min_score` says); its
    help said "cosine similarity", which is the copy score: a hit with copy score 0.607 and
    score 0.572 was left out by --min-score 0.6."""
    from click.testing import CliRunner

    from cli.main import cli

    for command in ("search", "similar"):
        text = " ".join(CliRunner().invoke(cli, [command, "--help"]).output.split())
        assert "Only results whose score (the rank score that orders them" in text, text
        assert "cosine similarity" not in text
