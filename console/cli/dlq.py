"""`aegis dlq`: inspect and replay the sinks' dead letters (KAFKA_TOPIC_DLQ)."""

from __future__ import annotations

import json

import click

from aegis.errors import ConfigError
from aegis.privacy import mask_text
from aegis.settings import Settings


def _text(raw: bytes | None, width: int | None = None) -> str:
    """A key or value for people: decoded and masked (a dead letter written before the masking
    policy may still hold personal data)."""
    if raw is None:
        return "(null)"
    text = mask_text(raw.decode("utf-8", "replace"))
    return text if width is None or len(text) <= width else text[: width - 1] + "…"


@click.group()
def dlq() -> None:
    """Dead letters: change events a sink could never apply, with the sink, error code and origin.

    A dead letter is named by its position on the dead-letter topic, PARTITION:OFFSET.
    """


def _position(value: str | None) -> dict[int, int] | None:
    """``--from``: ``PARTITION:OFFSET`` (a ref, or the "next page" a listing printed)."""
    if value is None:
        return None
    try:
        partition, offset = (int(part) for part in value.split(":"))
    except ValueError:
        raise click.BadParameter("expected PARTITION:OFFSET, e.g. 0:50", param_hint="--from") from None
    return {partition: offset}


def _ref(value: str) -> tuple[int, int]:
    try:
        partition, offset = (int(part) for part in value.split(":"))
    except ValueError:
        raise click.BadParameter(f"{value!r}: expected PARTITION:OFFSET (see `aegis dlq list`)",
                                 param_hint="REFS") from None
    return partition, offset


@dlq.command("list")
@click.option("--sink", default=None, help="Only this sink's dead letters (among those the page reads).")
@click.option("--limit", type=click.IntRange(1, 100_000), default=50, show_default=True,
              help="Read at most this many dead letters (one page).")
@click.option("--from", "start", default=None, metavar="PARTITION:OFFSET",
              help="Start here (default: the oldest retained); each page prints where the next starts.")
@click.option("--newest", is_flag=True, help="Start --limit before the end of each partition: the newest page.")
@click.option("--json", "as_json", is_flag=True,
              help="Print JSON lines, then one line {\"page\": ...} with what was read and where the next page starts.")
@click.pass_obj
def list_letters(settings: Settings, sink: str | None, limit: int, start: str | None, newest: bool,
                 as_json: bool) -> None:
    """List dead letters, oldest first, one page at a time.

    A page reads at most --limit messages from --from and says how far it got: it never reports
    "no more" past the point it read to (the end is the topic's end when the page started).
    """
    from cdc_sinks.dlq import count_dead_letters, read_page

    if newest and start:
        raise click.UsageError("give --from or --newest, not both")
    position = _position(start)
    if newest:
        marks = count_dead_letters(settings.kafka).partitions
        position = {p: max(low, high - limit) for p, (low, high) in marks.items()} or None
    page = read_page(settings.kafka, start=position, limit=limit, sink=sink)
    where = settings.kafka.topic_dlq
    next_ref = None if page.next is None else "{}:{}".format(*next(iter(page.next.items())))
    if as_json:
        for d in page.letters:
            click.echo(json.dumps({**d.model_dump(exclude={"key", "value", "error_message"}), "ref": d.ref,
                                   "error_message": mask_text(d.error_message), "key": _text(d.key)},
                                  ensure_ascii=False))
        click.echo(json.dumps({"page": {"read": page.read, "shown": len(page.letters), "total": page.total,
                                        "complete": page.complete, "stalled": page.stalled, "next": next_ref}}))
        return
    if page.letters:
        click.echo(f"{'REF':<10} {'SINK':<8} {'CODE':<8} {'ORIGIN':<32} {'KEY':<14} MESSAGE")
        for d in page.letters:
            origin = f"{d.original_topic}:{d.original_partition}:{d.original_offset}"
            click.echo(f"{d.ref:<10} {d.sink:<8} {d.error_code:<8} {origin:<32} {_text(d.key, 14):<14} "
                       f"{mask_text(d.error_message)[:80]}")
    if page.total == 0:
        click.echo(f"no dead letters on {where}")
        return
    shown = f"{len(page.letters)} of them from sink {sink}" if sink else f"{len(page.letters)} shown"
    click.echo(f"read {page.read} of the {page.total} dead letter(s) on {where} ({shown})", err=True)
    if page.stalled:
        click.echo(f"stopped early: Kafka returned nothing for a while; the rest was not read "
                   f"(continue with --from {next_ref})", err=True)
    elif next_ref is not None:
        click.echo(f"more: aegis dlq list --from {next_ref}" + (f" --sink {sink}" if sink else ""), err=True)
    else:
        click.echo("end of the topic reached (as of the start of this page)", err=True)


def _select(settings: Settings, refs: tuple[str, ...], sink: str | None, every: bool):
    from cdc_sinks.dlq import read_dead_letters, read_refs

    if every:
        return read_dead_letters(settings.kafka, sink=sink)
    wanted = [_ref(r) for r in refs]
    found = read_refs(settings.kafka, wanted)
    missing = [f"{p}:{o}" for p, o in wanted if (p, o) not in found]
    if missing:
        raise ConfigError(f"no dead letter {', '.join(missing)} on {settings.kafka.topic_dlq}",
                          hint="see `aegis dlq list` for the PARTITION:OFFSET references")
    return [found[ref] for ref in wanted]


@dlq.command()
@click.argument("refs", nargs=-1, required=True)
@click.pass_obj
def show(settings: Settings, refs: tuple[str, ...]) -> None:
    """Show dead letters REFS (PARTITION:OFFSET) in full: headers, key and value."""
    for d in _select(settings, refs, None, False):
        click.echo(f"dead letter {d.ref} on {settings.kafka.topic_dlq}")
        click.echo(f"  sink:       {d.sink}")
        click.echo(f"  error:      {d.error_code} ({d.error_kind}) {mask_text(d.error_message)}")
        click.echo(f"  origin:     {d.original_topic} partition {d.original_partition} offset {d.original_offset}")
        click.echo(f"  failed at:  {d.failed_at}")
        click.echo(f"  key:        {_text(d.key)}")
        click.echo(f"  value:      {_text(d.value)}")


@dlq.command()
@click.argument("refs", nargs=-1)
@click.option("--all", "every", is_flag=True, help="Replay every dead letter (of --sink, if given).")
@click.option("--sink", default=None, help="With --all: only this sink's dead letters.")
@click.pass_obj
def replay(settings: Settings, refs: tuple[str, ...], every: bool, sink: str | None) -> None:
    """Send dead letters back to their original topic, so the sinks try them again.

    Give REFS (PARTITION:OFFSET) or --all. A message several sinks dead-lettered is replayed once;
    an outdated one is harmless (no sink lets an older LSN overwrite a newer one). A message that
    still cannot be applied is dead-lettered again.
    """
    from cdc_sinks.dlq import replay as replay_letters

    if not refs and not every:
        raise click.UsageError("give dead-letter references (see `aegis dlq list`) or --all")
    letters = _select(settings, refs, sink, every)
    replayed = replay_letters(settings.kafka, letters)
    _audit_replay(settings, letters)
    click.echo(f"replayed {replayed} message(s) from {len(letters)} dead letter(s)")


def _policy_id(key: bytes | None) -> str:
    """The policy a dead letter is about: a change event's key is ``{"id": N}``, an outbox event's
    the aggregate id."""
    if not key:
        return "?"
    try:
        decoded = json.loads(key)
    except ValueError:
        return mask_text(key.decode("utf-8", "replace"))
    if isinstance(decoded, dict):
        decoded = decoded.get("id", decoded.get("payload", {}).get("id") if isinstance(decoded.get("payload"), dict)
                              else None)
    return str(decoded) if decoded is not None else "?"


def _audit_replay(settings: Settings, letters) -> None:
    from aegis.audit import AuditAction, AuditEntry, write_audit
    from aegis.db import connect

    seen, entries = set(), []
    for d in letters:
        if d.origin in seen or d.original_topic == "?":
            continue
        seen.add(d.origin)
        entries.append(AuditEntry(
            entity_id=_policy_id(d.key), action=AuditAction.DLQ_REPLAYED.value, actor="aegis dlq replay",
            reason=f"dead letter {d.ref} of sink {d.sink} ({d.error_code}) sent back to its topic",
            details={"dead_letter": d.ref, "sink": d.sink, "error_code": d.error_code,
                     "origin": f"{d.original_topic}:{d.original_partition}:{d.original_offset}"}))
    with connect(settings.postgres, autocommit=True) as conn:
        write_audit(conn, entries)
