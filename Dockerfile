# One image for every Aegis Sync process (collector, sinks, reconciler, exporter, migrations, connector set-up).
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
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
RUN pip install .

# The multilingual sentence model a deployment embeds Korean policies with, baked at build time and
# pinned by commit (the packaged all-MiniLM-L6-v2 is English-only: it reads Korean as loose letters).
# The build stops if the download fails or the model cannot read Korean (scripts/bake_embedding_model.py).
# 384 dimensions, like the local stack's model; max 128 tokens (EMBEDDING_MAX_TOKENS).
ARG EMBEDDING_MODEL_REPO=sentence-transformers/paraphrase-multilingual-MiniLM-L12-v2
ARG EMBEDDING_MODEL_REVISION=e8f8c211226b894fcb81acc59f3b34ba3efd5f42
ARG EMBEDDING_MODEL_DIR=/opt/models/paraphrase-multilingual-MiniLM-L12-v2
COPY scripts/bake_embedding_model.py /opt/models/bake_embedding_model.py
RUN python /opt/models/bake_embedding_model.py --repo "$EMBEDDING_MODEL_REPO" \
        --revision "$EMBEDDING_MODEL_REVISION" --dest "$EMBEDDING_MODEL_DIR" \
    && rm -rf /root/.cache/huggingface

# At run time nothing reaches a model hub; the baked model is the default (override EMBEDDING_MODEL to change).
ENV HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 EMBEDDING_MODEL=${EMBEDDING_MODEL_DIR}

RUN useradd --system --uid 10001 aegis && mkdir -p /app/.cache && chown aegis /app/.cache
USER aegis

ENTRYPOINT ["aegis"]
CMD ["--help"]
