"""`aegis lineage`, `aegis audit`, `aegis privacy`, `aegis retention`: data governance (docs/privacy.md)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import click

from aegis.errors import ConfigError, ErrorCode
from aegis.settings import Settings


def _when(value: datetime | None) -> str:
    return "-" if value is None else value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


@click.command()
@click.argument("policy_id", type=int)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document instead of text.")
@click.option("--target", "targets", multiple=True, help="Only these targets (repeatable; default: every sink).")
@click.pass_obj
def lineage(settings: Settings, policy_id: int, as_json: bool, targets: tuple[str, ...]) -> None:
    """Where POLICY_ID came from, every version PostgreSQL held and why, its events, and what each target holds.

    Source: system and id, the request URL (credentials redacted), the collector run, when it was
    fetched and the raw payload's digest. Versions: each insert/update/delete with the columns it
    changed, who (collector, reconciler, privacy-backfill, ...) and why. Targets: read through each
    sink's own read path: the LSN and content hash held, whether it matches PostgreSQL, when
    PostgreSQL wrote that version, and whether the last reconcile pass verified it.
    Exit status 1 when a target that should hold the current version does not.
    """
    import logging

    from aegis.db import connect
    from console.ops.lineage import policy_lineage

    logging.getLogger("neo4j").setLevel(logging.ERROR)  # the driver warns about labels a fresh graph lacks
    with connect(settings.postgres, autocommit=True) as conn:  # app: whether the raw payload is still kept
        found = policy_lineage(conn, settings, policy_id, targets=list(targets) or None)
    if found is None:
        raise ConfigError(f"policy {policy_id} is not in PostgreSQL and never was",
                          code=ErrorCode.CONFIG_INVALID, hint="check the id (`aegis status` lists the counts)")
    if as_json:
        click.echo(found.model_dump_json(indent=2))
    else:
        _print_lineage(found)
    out_of_step = [t for t in found.targets if t.expected_present != (t.present and bool(t.matches_postgres))
                   or (not t.expected_present and t.present)]
    if out_of_step or any(t.error for t in found.targets):
        raise SystemExit(1)


def _print_lineage(found) -> None:
    echo = click.echo
    echo(f"policy {found.policy_id}: status {found.status or '(deleted)'}, content hash {found.content_hash or '-'}")
    s = found.source
    if s is not None:
        echo("source:")
        echo(f"  {s.source_system} {s.source_id}  {s.original_url or ''}".rstrip())
        echo(f"  request:      {s.request_url or '(not recorded)'}")
        echo(f"  collector run {s.collector_run_id or '-'}, fetched {_when(s.fetched_at)}")
        echo(f"  raw payload:  sha256 {s.raw_payload_digest or '(not recorded)'} "
             f"({'kept, restricted' if s.raw_payload_kept else 'removed by retention or never kept'})")
        masked = ", ".join(f"{k} {v}" for k, v in sorted(s.masked.items())) or "nothing"
        echo(f"  masking:      {s.masking_version or '(not masked yet)'}; masked values: {masked}")
    echo(f"versions in PostgreSQL ({len(found.versions)}):")
    for v in found.versions:
        changed = f" [{', '.join(v.changed)}]" if v.changed else ""
        echo(f"  {_when(v.at)}  {v.op:<6} {v.status or '-':<18} {(v.content_hash or '-')[:12]}  "
             f"{v.actor}: {v.reason or ''}{' (' + v.run_id + ')' if v.run_id else ''}{changed}")
    echo(f"events ({len(found.events)}):")
    for e in found.events:
        echo(f"  {_when(e.at)}  {e.type} v{e.schema_version}  {e.event_id}")
    echo(f"audit ({len(found.audit)}):")
    for a in found.audit:
        echo(f"  {_when(a.timestamp)}  {a.action}  by {a.actor}: {a.reason}{' (' + a.run_id + ')' if a.run_id else ''}")
    echo("targets:")
    for t in found.targets:
        if t.error:
            echo(f"  {t.target:<7} unreadable: {t.error}")
            continue
        if not t.present:
            expected = "OUT OF STEP: PostgreSQL says active" if t.expected_present else "as expected"
            echo(f"  {t.target:<7} absent ({expected}); verified: {t.verified}")
            continue
        state = "current" if t.matches_postgres else "STALE (PostgreSQL holds another version)"
        if not t.expected_present:
            state = "ORPHANED (PostgreSQL says not active)"
        echo(f"  {t.target:<7} lsn {t.lsn}  hash {(t.content_hash or '')[:12]}  {state}; "
             f"version written {_when(t.version_written_at)}; verified: {t.verified}")


@click.command()
@click.option("--policy", "policy_id", default=None, help="Only this entity (a policy id, or a target/table name).")
@click.option("--since", type=click.DateTime(), default=None, help="From this time (UTC).")
@click.option("--until", type=click.DateTime(), default=None, help="Before this time (UTC).")
@click.option("--action", default=None, help="Only actions starting with this (e.g. status_changed, repaired).")
@click.option("--limit", type=click.IntRange(1, 100_000), default=100, show_default=True,
              help="At most this many rows.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON lines.")
@click.pass_obj
def audit(settings: Settings, policy_id: str | None, since: datetime | None, until: datetime | None,
          action: str | None, limit: int, as_json: bool) -> None:
    """The audit log, newest first: every state change the pipeline made on its own, with who, when and why."""
    from aegis.audit import read_audit
    from aegis.db import connect

    def utc(value: datetime | None) -> datetime | None:
        return None if value is None else value.replace(tzinfo=value.tzinfo or UTC)

    with connect(settings.postgres, autocommit=True, role="reader") as conn:
        entries = read_audit(conn, entity_id=policy_id, since=utc(since), until=utc(until), action=action, limit=limit)
    for e in entries:
        if as_json:
            click.echo(e.model_dump_json())
        else:
            click.echo(f"{_when(e.timestamp)}  {e.entity_type}:{e.entity_id}  {e.action}  by {e.actor}: {e.reason}"
                       + (f" ({e.run_id})" if e.run_id else ""))
    if not entries and not as_json:
        click.echo("no audit rows match")


@click.group()
def privacy() -> None:
    """Personal data: mask what is stored, and check a text against the masking policy."""


@privacy.command()
@click.option("--batch-size", type=click.IntRange(1, 100_000), default=500, show_default=True)
@click.pass_obj
def backfill(settings: Settings, batch_size: int) -> None:
    """Mask every stored policy not yet masked with the current policy (resumable, idempotent).

    `aegis db migrate` runs it once when it applies the privacy migration; run it again after the
    masking policy's version changes. Each masked row is audited (privacy_masked).
    """
    from aegis.db import connect
    from aegis.db.backfill import mask_stored_policies

    def show(seen: int, changed: int) -> None:
        click.echo(f"  {seen} rows checked, {changed} masked ...", err=True)

    with connect(settings.postgres, autocommit=True) as conn:
        seen, changed = mask_stored_policies(conn, batch_size=batch_size, progress=show)
    click.echo(f"privacy backfill: {seen} row(s) checked, {changed} rewritten masked")


@privacy.command()
@click.argument("text")
@click.option("--json", "as_json", is_flag=True)
def scan(text: str, as_json: bool) -> None:
    """Show what the masking policy finds in TEXT and how it would be stored."""
    from aegis.privacy import find_personal_data, mask_text

    findings = find_personal_data(text)
    if as_json:
        click.echo(json.dumps({"masked": mask_text(text), "findings": [
            {"kind": f.kind.value, "start": f.start, "end": f.end, "masked": f.masked} for f in findings]},
            ensure_ascii=False))
        return
    for f in findings:
        click.echo(f"{f.kind.value:<8} {f.start}-{f.end} {'masked' if f.masked else 'kept (contact data)'}")
    click.echo(mask_text(text))


@click.group()
def retention() -> None:
    """Retention of raw payloads, processing history and the audit log (RETENTION_* settings)."""


@retention.command("run")
@click.option("--dry-run", is_flag=True, help="Count what would be removed; change nothing.")
@click.pass_obj
def retention_run(settings: Settings, dry_run: bool) -> None:
    """Apply the retention settings once (the main job does it every RETENTION_INTERVAL_HOURS)."""
    from aegis.db import connect
    from aegis.db.retention import enforce_retention

    with connect(settings.postgres, autocommit=True, role="owner") as conn:  # it deletes old audit rows
        result = enforce_retention(conn, settings.retention, dry_run=dry_run)
    verb = "would remove" if dry_run else "removed"
    click.echo(f"retention {verb}: " + ", ".join(f"{k} {v}" for k, v in result.removed.items()))
