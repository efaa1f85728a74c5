# One image for every Aegis Sync process (collector, sinks, reconciler, exporter, connector set-up).
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 HF_HUB_OFFLINE=1
WORKDIR /app

# CPU-only torch for the embeddings (the default wheel index pulls GBs of CUDA libraries).
RUN pip install --index-url https://download.pytorch.org/whl/cpu "torch>=2.2,<3"

COPY pyproject.toml README.md ./
COPY aegis ./aegis
COPY collectors ./collectors
COPY cdc_sinks ./cdc_sinks
COPY reconciler ./reconciler
COPY connectors ./connectors
COPY console ./console
COPY devstack ./devstack
RUN pip install . && useradd --system --uid 10001 aegis && mkdir -p /app/.cache && chown aegis /app/.cache
USER aegis

ENTRYPOINT ["aegis"]
CMD ["--help"]
