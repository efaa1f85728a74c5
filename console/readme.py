"""The README's generated tables: every setting (from the settings tree) and every command (from the CLI).

``python -m console.readme README.md`` (``make docs``) rewrites both in place; a unit test checks
they are current, so the README never drifts from the code.
"""

from __future__ import annotations

import sys
from pathlib import Path

from aegis.settings import environment_variables, former_names, setting_groups

SETTINGS_START, SETTINGS_END = "<!-- settings-table:start -->", "<!-- settings-table:end -->"


def settings_table() -> str:
    """A Markdown table of every setting: environment variable, default, meaning."""
    lines = ["| variable | default | meaning |", "|---|---|---|"]
    for group in setting_groups().values():
        variables = environment_variables(group)
        for name, field in group.model_fields.items():
            default = field.default
            if hasattr(default, "get_secret_value"):
                shown = "(secret)"
            elif default is None:
                shown = "(unset)"
            else:
                shown = f"`{default}`"
            meaning = (field.description or "").replace("|", "\\|")
            former = former_names(group, name)
            if former:
                meaning += f" Also read from its former name{'s' if len(former) > 1 else ''} " + \
                           ", ".join(f"`{n}`" for n in former) + "."
            lines.append(f"| `{variables[name]}` | {shown} | {meaning} |")
    return "\n".join(lines)


def _replace_between(text: str, start: str, end: str, body: str) -> str:
    head, _, rest = text.partition(start)
    _, _, tail = rest.partition(end)
    return f"{head}{start}\n{body}\n{end}{tail}"


def render_settings_table(readme: str) -> str:
    """``readme`` with the text between the settings-table markers replaced by ``settings_table()``."""
    return _replace_between(readme, SETTINGS_START, SETTINGS_END, settings_table())


def render_readme(readme: str) -> str:
    """``readme`` with both generated tables (settings, CLI reference) brought up to date."""
    from console.cli import cli
    from console.cli.reference import render_readme_cli

    return render_readme_cli(render_settings_table(readme), cli)


def main(argv: list[str]) -> None:
    if not argv:
        print(settings_table())
        return
    path = Path(argv[0])
    path.write_text(render_readme(path.read_text(encoding="utf-8")), encoding="utf-8")


if __name__ == "__main__":
    main(sys.argv[1:])
