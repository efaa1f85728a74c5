"""`aegis sources`: what the collectors read from, and the local sample server."""

from __future__ import annotations

import click

from aegis.settings import Settings


@click.group()
def sources() -> None:
    """Collector sources: list them, or serve the sample sources locally."""


@sources.command("list")
@click.pass_obj
def list_sources(settings: Settings) -> None:
    """Show every source, its kind and where it is collected from (keys are never shown)."""
    from collectors.sources.registry import API_SOURCES, boards, portal_apis, resolve_endpoint, resolve_portal_endpoint

    click.echo(f"{'source':<22}{'kind':<7}{'mode':<9}url")
    for name, spec in API_SOURCES.items():
        endpoint = resolve_endpoint(spec, settings.source_apis[name], settings)
        click.echo(f"{name:<22}{'api':<7}{'samples' if endpoint.using_samples else 'live':<9}{endpoint.base_url}")
    for api in portal_apis(settings):
        endpoint = resolve_portal_endpoint(api, settings)
        click.echo(f"{api.source_system:<22}{'api':<7}{'samples' if endpoint.using_samples else 'live':<9}"
                   f"{endpoint.base_url}{api.path}")
    samples = settings.sources.samples_url.rstrip("/") + "/"
    for board in boards(settings):
        mode = "samples" if board.start_url.startswith(samples) else "live"
        click.echo(f"{board.source_system:<22}{'board':<7}{mode:<9}{board.start_url}")


@sources.command("serve-samples")
@click.option("--host", default=None, help="Address to listen on (default: SOURCE_SAMPLES_URL's host).")
@click.option("--port", type=int, default=None, help="Port (default: SOURCE_SAMPLES_URL's port; 0 picks a free one).")
@click.option("--fault", "faults", multiple=True, metavar="SPEC",
              help="Answer with an error: SOURCE=KIND[:ARG][/FORM][@PAGE][xTIMES], e.g. kstartup=gateway:22, "
                   "gov24=gateway:22/classic-json (FORM: xml, openapi-json, classic-xml, classic-json), "
                   "gov24=auth, bizinfo=http_error:503x-1, youthcenter=slow:30, korea_rss=entity_bomb. "
                   "Kinds: auth, quota, gateway, http_error, slow, truncated, cut_json, entity_bomb.")
@click.option("--shape", "shapes", multiple=True, metavar="SOURCE=SHAPE[,SHAPE...]",
              help="Answer SOURCE in real-response variants, e.g. kstartup=classic-xml,bom or bizinfo=channel "
                   "(docs/collectors.md, 'Real-response shapes', lists every shape and the sources that take it).")
@click.option("--scale", type=float, default=1.0, show_default=True,
              help="Multiply the number of generated records (e.g. 10 for a bigger data set).")
@click.pass_obj
def serve_samples(settings: Settings, host: str | None, port: int | None, faults: tuple[str, ...],
                  shapes: tuple[str, ...], scale: float) -> None:
    """Serve realistic responses of every source (and their error shapes) until Ctrl-C.

    Control while running: POST /_control/fault (JSON Fault), /_control/shape
    {"source", "shapes"}, /_control/reset, /_control/update {"source", "id", "changes"};
    GET /_control/requests.
    """
    from urllib.parse import urlsplit

    from collectors.samples.catalog import SampleCatalog
    from collectors.samples.faults import parse_fault_option
    from collectors.samples.server import SampleServer
    from collectors.samples.shapes import parse_shape_option

    parts = urlsplit(settings.sources.samples_url)
    try:
        parsed = [parse_fault_option(f) for f in faults]
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--fault") from None
    try:
        variants = [parse_shape_option(s) for s in shapes]
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--shape") from None
    # no --port and no port in SOURCE_SAMPLES_URL: a free one (printed below)
    server = SampleServer(host or parts.hostname or "127.0.0.1", (parts.port or 0) if port is None else port,
                          catalog=SampleCatalog(scale=scale))
    for fault in parsed:
        server.faults.add(fault)
    for source, chosen in variants:
        server.shapes.set(source, chosen)
    click.echo(f"serving sample sources at {server.url} (Ctrl-C to stop)")
    for fault in parsed:
        click.echo(f"  fault: {fault.model_dump(exclude_defaults=True)}")
    for source, chosen in variants:
        click.echo(f"  shape: {source} = {', '.join(s.value for s in chosen)}")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.close()
        click.echo("stopped")
