"""The README's CLI reference, generated from the click commands (so it never drifts)."""

from __future__ import annotations

import click

START, END = "<!-- cli-reference:start -->", "<!-- cli-reference:end -->"


def _rows(command: click.Command, path: list[str]):
    if isinstance(command, click.Group):
        for name in sorted(command.commands):
            yield from _rows(command.commands[name], [*path, name])
        return
    ctx = click.Context(command, info_name=" ".join(path))
    usage = " ".join(command.collect_usage_pieces(ctx))
    summary = " ".join((command.help or "").strip().split("\n\n")[0].split())
    invocation = " ".join([*path, usage]).strip()
    yield f"| `{invocation}` | {summary.replace('|', '/')} |"


def cli_reference(root: click.Group) -> str:
    lines = ["| command | what it does |", "|---|---|"]
    lines.extend(_rows(root, ["aegis"]))
    return "\n".join(lines)


def render_readme_cli(readme: str, root: click.Group) -> str:
    head, _, rest = readme.partition(START)
    _, _, tail = rest.partition(END)
    return f"{head}{START}\n{cli_reference(root)}\n{END}{tail}"
