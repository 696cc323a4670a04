"""docker-compose.yml and the Dockerfile hold together (no Docker engine runs on these machines)."""

from __future__ import annotations

from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def test_compose_runs_the_app_on_postgres_15_with_health_checks_and_a_volume() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    db, app = compose["services"]["db"], compose["services"]["helpdesk"]
    assert db["image"] == "postgres:15"
    assert "pgdata" in compose["volumes"] and db["volumes"][0].startswith("pgdata:")
    assert "pg_isready" in " ".join(db["healthcheck"]["test"])
    assert app["build"] == "." and app["depends_on"]["db"]["condition"] == "service_healthy"
    assert app["environment"]["DATABASE_URL"].startswith("postgresql+asyncpg://helpdesk:helpdesk@db:5432/")
    assert "/healthz" in " ".join(app["healthcheck"]["test"])


def test_dockerfile_installs_the_wheel_and_runs_without_the_checkout() -> None:
    build, runtime = _stages()
    for folder in ("bot", "handlers", "kb", "migrations"):
        assert f"COPY {folder} ./{folder}" in build
    assert "pip wheel --no-cache-dir --no-deps --wheel-dir /dist ." in build
    assert "COPY --from=build /dist /dist" in runtime and "pip install --no-cache-dir /dist/*.whl" in runtime
    assert "COPY bot" not in runtime  # nothing of the checkout reaches the image but the wheel
    assert "helpdesk db upgrade && helpdesk kb import && helpdesk run" in runtime


def _stages() -> tuple[str, str]:
    """The Dockerfile's build and runtime stages."""
    text = (ROOT / "Dockerfile").read_text()
    build, runtime = text.split("\nFROM python:3.11-slim\n")
    return build, runtime
