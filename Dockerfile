FROM python:3.11-slim
WORKDIR /app
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY handlers ./handlers
COPY kb ./kb
COPY migrations ./migrations
COPY config ./config
RUN pip install --no-cache-dir -e .
# Migrate and load the starter KB on every start (both are idempotent), then run.
CMD ["sh", "-c", "helpdesk db upgrade && helpdesk kb import kb/content && helpdesk run"]
