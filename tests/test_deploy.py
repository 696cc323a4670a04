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


def test_dockerfile_migrates_and_loads_the_kb_on_start() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    for folder in ("bot", "handlers", "kb", "migrations", "config"):
        assert f"COPY {folder} ./{folder}" in dockerfile
    assert "helpdesk db upgrade && helpdesk kb import kb/content && helpdesk run" in dockerfile
