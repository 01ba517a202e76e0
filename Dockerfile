# briefing: the CLI, the HTTP API and the queue worker, with ffmpeg and the bundled tiny.en model.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    BRIEFING_DATA_DIR=/data

RUN apt-get update \
    && apt-get install -y --no-install-recommends ffmpeg \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY pyproject.toml README.md ./
COPY indexer ./indexer
COPY worker ./worker
COPY api ./api
RUN pip install --no-cache-dir .

# Not root: Celery warns against it, and a crafted video is better handled without privileges.
# /data is created here so a fresh named volume inherits its owner.
RUN useradd --create-home --uid 10001 briefing \
    && mkdir -p /data && chown briefing:briefing /data
USER briefing
VOLUME ["/data"]

EXPOSE 8000
CMD ["briefing", "--help"]
