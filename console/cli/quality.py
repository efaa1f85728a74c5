"""`aegis quality`: why a policy scored as it did."""

from __future__ import annotations

import click

from aegis.db import connect
from aegis.settings import Settings


@click.group()
def quality() -> None:
    """Quality scores of policies (computed by `aegis reconcile`)."""


@quality.command()
@click.argument("policy_id", type=int)
@click.option("--json", "as_json", is_flag=True, help="Print the explanation as JSON.")
@click.pass_obj
def explain(settings: Settings, policy_id: int, as_json: bool) -> None:
    """Show POLICY_ID's stored quality score: each dimension, every deduction and its reason,
    the total against QUALITY_SCORE_THRESHOLD, its status changes and any duplicate decision."""
    from reconciler.explain import explain_policy
    from reconciler.quality import explain as explain_lines

    with connect(settings.postgres, role="reader") as conn:
        found = explain_policy(conn, policy_id)
    if as_json:
        click.echo(found.model_dump_json(indent=2))
        return
    click.echo(f"policy #{found.policy_id} ({found.source}): {found.title}")
    click.echo(f"status: {found.status}")
    if found.score is None:
        click.echo("not scored yet: `aegis reconcile --once` scores pending policies")
    else:
        for line in explain_lines(found.score, settings.reconciler.quality_score_threshold):
            click.echo(line)
    if found.duplicate:
        d = found.duplicate
        click.echo(f"duplicate of #{d.canonical_policy_id} (rule {d.rule}, title similarity "
                   f"{d.title_similarity:.2f}): {d.reason}")
    for change in found.history:
        click.echo(f"{change.at:%Y-%m-%d %H:%M:%S%z} {change.action}: {change.reason or ''}"
                   + (f" [{change.run_id}]" if change.run_id else ""))
