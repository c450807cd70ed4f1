# One image for all five services; SERVICE picks which one a container runs.
#
# Nothing secret is in it. The development tokens (deploy/local/dev-tokens.json) are never
# copied: without TOKENS_FILE the services accept signed JWTs only (JWT_JWKS_FILE or
# JWT_JWKS_URL, JWT_ISSUER, JWT_AUDIENCE; runtime/jwt_tokens.py). The keys that protect data
# come from the environment and a container refuses to start without them: CLIENT_ID_KEY
# (referrals: derives pseudonymous client ids) and WEBHOOK_SECRET_KEY (notifications: encrypts
# webhook secrets at rest). docker-compose.yml mounts the dev tokens and sets development keys.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1 \
    HTTP_HOST=0.0.0.0 TOKENS_FILE=/nonexistent/no-static-tokens-in-images.json
WORKDIR /app

COPY pyproject.toml constraints.txt ./
COPY schemas ./schemas
COPY runtime ./runtime
COPY services ./services
COPY brokerage_client ./brokerage_client
# Reference data only: the seeded provider directory and the partnerships' local authorities.
COPY deploy/local/providers.json deploy/local/partnerships.json ./deploy/local/
RUN pip install --no-cache-dir -c constraints.txt -e . \
 && useradd --system --uid 10001 app
USER app

# A non-root process that exits on SIGTERM after draining: uvicorn runs the lifespan's
# shutdown (consumer, outbox relay, database client) before the container stops.
CMD ["sh", "-c", "\
case \"${SERVICE:?set SERVICE to referrals, vacancies, matching, notifications or operations}\" in \
  referrals) : \"${CLIENT_ID_KEY:?CLIENT_ID_KEY must come from the environment}\" ;; \
  notifications) : \"${WEBHOOK_SECRET_KEY:?WEBHOOK_SECRET_KEY must come from the environment}\" ;; \
esac; \
exec python -m services.${SERVICE}"]
