from pathlib import Path

from console.readme import render_settings_table

README = Path(__file__).resolve().parents[2] / "README.md"


def test_configuration_table_lists_every_setting():
    text = README.read_text(encoding="utf-8")
    assert render_settings_table(text) == text, "the README's settings table is out of date: run `make docs`"


def test_quick_start_is_the_two_commands():
    text = README.read_text(encoding="utf-8")
    assert "make run" in text and "make test" in text


def test_cli_reference_lists_every_command():
    from console.cli import cli
    from console.cli.reference import render_readme_cli

    text = README.read_text(encoding="utf-8")
    assert render_readme_cli(text, cli) == text, "the README's CLI reference is out of date: run `make docs`"
