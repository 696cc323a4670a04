# The image runs the same wheel `pip install` gives anyone: built in the first stage, installed alone in the second.
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY handlers ./handlers
COPY kb ./kb
COPY migrations ./migrations
RUN pip wheel --no-cache-dir --no-deps --wheel-dir /dist .

FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
COPY --from=build /dist /dist
RUN pip install --no-cache-dir /dist/*.whl && rm -rf /dist
# No checkout in the image: the config defaults, migrations and starter KB come from the installed package.
WORKDIR /data
# Migrate, sync the configured staff and load the starter KB on every start (all idempotent), then run.
CMD ["sh", "-c", "helpdesk db upgrade && helpdesk kb import && helpdesk run"]
