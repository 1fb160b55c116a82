# syntax=docker/dockerfile:1
# stream-notifier: a Kafka consumer-group member that turns domain events into in-app
# notifications. No inbound port; configure it with a mounted config file (and routes file)
# plus the env vars KAFKA_BOOTSTRAP_SERVERS, WACHT_BACKEND_API_URL, WACHT_BACKEND_API_KEY.
#
#   docker build -t stream-notifier .
#   docker run --rm -v "$PWD/examples:/etc/stream-notifier:ro" \
#       -e WACHT_BACKEND_API_KEY=... stream-notifier
#
# Exit codes: 2 configuration error, 3 the API refused our credentials (401/403), 4 Kafka fault.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH

# A fixed numeric uid, so that Kubernetes' runAsNonRoot can check it without a passwd lookup.
ARG APP_UID=10001
RUN groupadd --system --gid "${APP_UID}" notifier \
    && useradd --system --uid "${APP_UID}" --gid notifier --no-create-home \
        --home-dir /nonexistent --shell /usr/sbin/nologin notifier \
    && python -m venv /opt/venv

WORKDIR /app

# Dependencies first, from pyproject.toml alone: this layer is rebuilt only when they change.
# (Every dependency ships manylinux wheels, librdkafka included: no compiler needed.)
COPY pyproject.toml /app/pyproject.toml
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('/app/pyproject.toml', 'rb'))['project']['dependencies']))" \
        > /tmp/requirements.txt \
    && pip install --requirement /tmp/requirements.txt \
    && rm /tmp/requirements.txt

# The repository layout is kept under /app: the code finds schemas/ beside the package
# (stream_notifier/state/codec.py reads <repo>/schemas/stream_notifier/changelog_entry.avsc,
# dev-produce <repo>/schemas/events), so the package is installed in place (editable).
COPY . /app
RUN pip install --no-deps --editable /app \
    && python -m compileall -q /app/stream_notifier \
    && test -f /app/schemas/stream_notifier/changelog_entry.avsc \
    && stream-notifier --version \
    && python -c "import stream_notifier.state.codec"

# Root owns the code and the venv; the service only reads them (read-only root fs is fine).
USER ${APP_UID}:${APP_UID}

# SIGTERM drains in-flight deliveries and commits within delivery.shutdown_timeout (15 s).
STOPSIGNAL SIGTERM
ENTRYPOINT ["stream-notifier"]
CMD ["run", "--config", "/etc/stream-notifier/config.yaml"]
