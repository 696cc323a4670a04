"""What the code relies on in its dependencies: bounded in pyproject.toml, and checked here so that an
upgrade that changes one of these behaviours fails loudly instead of breaking the bot silently."""

from __future__ import annotations

import tomllib
from importlib.metadata import version
from pathlib import Path

import asyncpg
import pytest
from packaging.requirements import Requirement
from pydantic import BaseModel, ValidationError, field_validator
from sqlalchemy import literal, select, text
from sqlalchemy.dialects import postgresql

from bot.config import Strict
from bot.db.engine import create_engine
from bot.settings import Settings

PROJECT = tomllib.loads((Path(__file__).resolve().parents[1] / "pyproject.toml").read_text())["project"]


def _requirements() -> list[Requirement]:
    found = [Requirement(line) for line in PROJECT["dependencies"]]
    return [r for r in found if r.marker is None or r.marker.evaluate()]


@pytest.mark.parametrize("requirement", _requirements(), ids=str)
def test_every_dependency_has_an_upper_bound_and_the_installed_version_is_inside(requirement: Requirement) -> None:
    assert any(spec.operator in ("<", "<=", "~=", "==") for spec in requirement.specifier), \
        f"{requirement}: give it an upper bound (the code depends on its behaviour)"
    installed = version(requirement.name)
    assert requirement.specifier.contains(installed, prereleases=True), f"{requirement.name} {installed}"


async def test_sqlalchemy_hands_out_the_asyncpg_connection_and_begins_lazily(pg_settings: Settings) -> None:
    """bot.db.driver: the public `driver_connection` is asyncpg's; SQLAlchemy's adapter sends BEGIN with its
    first statement (none before), and asyncpg's `is_in_transaction()` tells which state it is in."""
    engine = create_engine(pg_settings.database_url, schema=pg_settings.database_schema)
    try:
        async with engine.begin() as conn:
            raw = await conn.get_raw_connection()
            driver = raw.driver_connection
            assert isinstance(driver, asyncpg.Connection)
            assert conn.sync_connection is not None and conn.sync_connection.connection.driver_connection is driver
            assert not driver.is_in_transaction()  # lazily begun: why the driver path starts it with one statement
            await conn.execute(text("SELECT 1"))
            assert driver.is_in_transaction()
        assert not driver.is_in_transaction()  # committed
    finally:
        await engine.dispose()


async def test_asyncpg_records_read_by_name_and_position(pg_settings: Settings) -> None:
    """Rows of the driver path are asyncpg records: `row["name"]`, `row[0]`, `dict(row)`."""
    conn = await asyncpg.connect(pg_settings.database_url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        (row,) = await conn.fetch("SELECT 1 AS one, 'x' AS two")
    finally:
        await conn.close()
    assert (row["one"], row[1], dict(row)) == (1, "x", {"one": 1, "two": "x"})


def test_sqlalchemy_compiles_positional_parameters_and_postcompile_lists_as_the_driver_path_reads_them() -> None:
    """bot.db.driver._compile reads `positiontup`, `binds` and renders a constant IN list in place of its
    `__[POSTCOMPILE_name]` marker."""
    stmt = select(literal("x").in_(["x", "y"]), literal(1))
    compiled = stmt.compile(dialect=postgresql.asyncpg.dialect())  # type: ignore[attr-defined]
    names = list(compiled.positiontup or ())
    assert len(names) == 3 and all(name in compiled.binds for name in names)
    expanding = [name for name in names if compiled.binds[name].expanding]
    assert len(expanding) == 1 and f"__[POSTCOMPILE_{expanding[0]}]" in str(compiled)
    assert "$1" in str(compiled)  # asyncpg's own numbered parameters


def test_pydantic_value_errors_read_as_config_problems() -> None:
    """bot.config turns validator errors into `key: message` by removing pydantic's "Value error, " prefix."""

    class Sample(Strict):
        n: int = 1

        @field_validator("n")
        @classmethod
        def _positive(cls, value: int) -> int:
            if value <= 0:
                raise ValueError("must be greater than zero")
            return value

    with pytest.raises(ValidationError) as caught:
        Sample(n=0)
    assert caught.value.errors()[0]["msg"] == "Value error, must be greater than zero"
    with pytest.raises(ValidationError) as unknown:
        Sample(m=1)  # type: ignore[call-arg]
    assert unknown.value.errors()[0]["type"] == "extra_forbidden"
    assert issubclass(Sample, BaseModel)
