"""`aegis sinks reembed`: rebuild the Milvus collection with the configured embedding model."""

from __future__ import annotations

import click

from aegis.settings import Settings


@click.command()
@click.option("--page-size", type=click.IntRange(1, 16384), default=500, show_default=True,
              help="Rows read, embedded and written per step.")
@click.option("--drop-old", is_flag=True, help="Drop the previous model version's collection after the swap "
                                               "(default: keep it for rollback).")
@click.pass_obj
def reembed(settings: Settings, page_size: int, drop_old: bool) -> None:
    """Re-embed every policy in Milvus with the EMBEDDING_* settings, then swap MILVUS_COLLECTION_ALIAS.

    Run it with the NEW model settings while the Milvus sink keeps running with the old ones. It
    builds a new collection from the stored texts (resumable: rows already embedded with the new
    model are skipped), catches up with changes written meanwhile, swaps the alias, and reports.
    The old sink then stops at its next batch: restart it with the new settings. See docs/milvus.md.
    """
    from cdc_sinks.milvus.reembed import Reembedder, ReembedProgress
    from cdc_sinks.milvus.sink import build_milvus_sink

    click.echo(f"loading embedding model {settings.embedding.model} ({settings.embedding.backend}) ...", err=True)
    sink = build_milvus_sink(settings)

    def show(p: ReembedProgress) -> None:
        total = f"/{p.total}" if p.phase == "copy" else ""
        click.echo(f"{p.phase}: {p.done}{total} rows, {p.embedded} embedded ({p.texts_per_second:.1f} texts/s)",
                   err=True)

    try:
        report = Reembedder(sink, page_size=page_size, progress=show).run(drop_old=drop_old)
    finally:
        sink.close()
    if report.from_collection == report.to_collection:
        click.echo(f"alias {report.alias} already serves model version {report.to_version}: nothing to do")
        return
    _audit(settings, report)
    click.echo(f"re-embedded {report.rows} rows ({report.embedded} model inputs, {report.skipped} already current, "
               f"{report.catch_up_rows} caught up) in {report.seconds:.1f}s; alias {report.alias}: "
               f"{report.from_collection} ({report.from_version}) -> {report.to_collection} ({report.to_version})"
               + ("; old collection dropped" if report.dropped_old else "; old collection kept for rollback"))


def _audit(settings: Settings, report) -> None:
    """One audit row for the whole target: a re-embed rewrites every vector, not one policy's."""
    from aegis.audit import AuditAction, AuditEntry, write_audit
    from aegis.db import connect

    with connect(settings.postgres, autocommit=True) as conn:
        write_audit(conn, AuditEntry(
            entity_type="target", entity_id="milvus", action=AuditAction.REEMBEDDED.value, actor="aegis sinks reembed",
            reason=f"embedding model {report.from_version} -> {report.to_version}",
            details={"rows": report.rows, "embedded": report.embedded, "skipped": report.skipped,
                     "caught_up": report.catch_up_rows, "from_collection": report.from_collection,
                     "to_collection": report.to_collection, "dropped_old": report.dropped_old}))
