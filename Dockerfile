# One image for all four services; SERVICE picks which one a container runs.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1 \
    HTTP_HOST=0.0.0.0
WORKDIR /app

COPY pyproject.toml constraints.txt ./
COPY schemas ./schemas
COPY runtime ./runtime
COPY services ./services
COPY brokerage_client ./brokerage_client
COPY deploy/local/dev-tokens.json deploy/local/providers.json ./deploy/local/
RUN pip install --no-cache-dir -c constraints.txt -e . \
 && useradd --system --uid 10001 app
USER app

# A non-root process that exits on SIGTERM after draining: uvicorn runs the lifespan's
# shutdown (consumer, outbox relay, database client) before the container stops.
CMD ["sh", "-c", "exec python -m services.${SERVICE:?set SERVICE to referrals, vacancies, matching or notifications}"]
