"""``imgsearch models list``: which models exist, where their files are, whether they verify,
and which one the library here uses."""

from __future__ import annotations

import json

import click

from cli.main import cli
from cli.models_cmds import search_path_of, settings_of
from models import ImgsearchError, available_models, model_status


@cli.group("models")
def models_group() -> None:
    """Model catalog: which models exist, where their files are, whether they verify."""


@models_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array instead of a table.")
@click.pass_context
def models_list(ctx: click.Context, as_json: bool) -> None:
    """List catalog models (built-in and <name>.model.json on the model path)."""
    search_path = search_path_of(ctx)
    rows = []
    for name in available_models(search_path):
        try:
            rows.append(model_status(name, search_path))
        except ImgsearchError as exc:
            rows.append({"name": name, "found": False, "verified": False, "error": str(exc)})
    from search.library import library_model_name

    library_model = library_model_name(settings_of(ctx))  # what embed, classify, eval use here
    if as_json:
        body = {"search_path": [str(p) for p in search_path], "models": rows}
        click.echo(json.dumps({**body, "library_model": library_model}, indent=2))
        return
    click.echo(f"{'model':<30} {'dim':>5} {'classes':>7} {'found':>5} {'verified':>8}  file")
    for row in rows:
        mark = "*" if row.get("default") else " "
        click.echo(
            f"{mark}{row['name']:<29} {row.get('dimension', '?'):>5} "
            f"{'yes' if row.get('classes') else 'no':>7} {'yes' if row['found'] else 'no':>5} "
            f"{'yes' if row['verified'] else 'no':>8}  {row.get('path') or row.get('file')}"
        )
    click.echo("(* = default)  search path: " + ", ".join(str(p) for p in search_path))
    if library_model:
        click.echo(f"this library's model: {library_model} (embed and eval use it)")
