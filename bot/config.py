"""The service configuration: queues, SLA policy, calendars and matcher thresholds, from one TOML file."""

from __future__ import annotations

import re
import tomllib
from datetime import date, time
from importlib import resources
from itertools import pairwise
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

LANGUAGES = ("en", "es", "fr")
PRIORITIES = ("low", "normal", "high", "urgent")
# The service defaults ship inside the package (`helpdesk config example` prints them to copy and edit).
DEFAULT_CONFIG = Path(str(resources.files("bot") / "helpdesk.example.toml"))

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(m|h|d)\s*$")
_HOURS = re.compile(r"^(\d{2}):(\d{2})-(\d{2}):(\d{2})$")
_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def greater_than_zero(value: float) -> float:
    """A config number that must be positive (counts, durations, limits)."""
    if value <= 0:
        raise ValueError("must be greater than zero")
    return value


class ConfigError(ValueError):
    """An invalid service config: every problem as `file: key: what is wrong`."""

    def __init__(self, path: str, problems: list[str]) -> None:
        self.path = path
        self.problems = problems
        super().__init__("\n".join(f"{path}: {p}" for p in problems))


class Strict(BaseModel):
    """Unknown keys are errors: a typo must not silently fall back to a default."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def parse_duration(value: str) -> tuple[float, str]:
    """'4h' -> (4, 'h'); '2d' -> (2, 'd'); '30m' -> (30, 'm'). Days are business days."""
    match = _DURATION.match(value)
    if not match:
        raise ValueError(f"{value!r} is not a duration like '30m', '4h' or '2d'")
    return float(match.group(1)), match.group(2)


Duration = Annotated[str, Field(description="business duration: '30m', '4h', '2d'")]


class SlaPolicy(Strict):
    """Service-level targets for one priority (business time unless `calendar_time`)."""

    first_response: Duration = "2d"
    next_response: Duration = "2d"
    resolution: Duration = "10d"
    unclaimed_reminder: Duration = "4h"
    lead_escalation: Duration = "1d"
    secretariat_escalation: Duration = "2d"
    claim_expiry: Duration = "2d"
    waiting_reminder: Duration = "5d"
    waiting_autoclose: Duration = "10d"
    pre_breach_percent: int = 75
    calendar_time: bool = False

    @field_validator(
        "first_response", "next_response", "resolution", "unclaimed_reminder", "lead_escalation",
        "secretariat_escalation", "claim_expiry", "waiting_reminder", "waiting_autoclose",
    )
    @classmethod
    def _duration(cls, value: str) -> str:
        amount, _ = parse_duration(value)
        if amount <= 0:
            raise ValueError("must be greater than zero")
        return value

    @field_validator("pre_breach_percent")
    @classmethod
    def _percent(cls, value: int) -> int:
        if not 1 <= value <= 99:
            raise ValueError("must be between 1 and 99")
        return value


class CalendarConfig(Strict):
    """Business hours of a queue: days, hours, time zone and holidays."""

    timezone: str = "UTC"
    working_days: list[str] = Field(default_factory=lambda: list(_DAYS[:5]))
    hours: list[str] = Field(default_factory=lambda: ["09:00-17:00"])
    holiday_country: str | None = None
    holiday_subdivision: str | None = None
    closed_days: list[str] = Field(default_factory=list)

    @field_validator("working_days")
    @classmethod
    def _days(cls, value: list[str]) -> list[str]:
        unknown = [d for d in value if d.lower() not in _DAYS]
        if unknown:
            raise ValueError(f"unknown day(s) {unknown}; use {list(_DAYS)}")
        if not value:
            raise ValueError("at least one working day is needed")
        return [d.lower() for d in value]

    @field_validator("closed_days")
    @classmethod
    def _closed_days(cls, value: list[str]) -> list[str]:
        for day in value:
            try:
                date.fromisoformat(day)
            except ValueError:
                raise ValueError(f"{day!r} is not a date like '2026-12-24'") from None
        return value

    @field_validator("hours")
    @classmethod
    def _hours(cls, value: list[str]) -> list[str]:
        spans = [parse_hours(v) for v in value]
        spans.sort()
        for (_, end), (start, _) in pairwise(spans):
            if start < end:
                raise ValueError("working hours overlap")
        return value

    def day_numbers(self) -> list[int]:
        """Working days as 0=Monday … 6=Sunday."""
        return [_DAYS.index(d) for d in self.working_days]

    def spans(self) -> list[tuple[time, time]]:
        """Working hours as (start, end) local times."""
        return sorted(parse_hours(v) for v in self.hours)


def parse_hours(value: str) -> tuple[time, time]:
    """'09:00-17:00' -> (time(9), time(17)); the end may be 24:00."""
    match = _HOURS.match(value.strip())
    if not match:
        raise ValueError(f"{value!r} is not a span like '09:00-17:00'")
    h1, m1, h2, m2 = (int(g) for g in match.groups())
    if h1 > 23 or m1 > 59 or h2 > 24 or m2 > 59 or (h2 == 24 and m2):
        raise ValueError(f"{value!r} has an impossible time")
    start = time(h1, m1)
    end = time.max if h2 == 24 else time(h2, m2)
    if end <= start:
        raise ValueError(f"{value!r} ends before it starts")
    return start, end


def parse_quiet_hours(value: str) -> tuple[time, time]:
    """'20:00-08:00' -> (time(20), time(8)); the span may wrap midnight, equal ends mean none."""
    match = _HOURS.match(value.strip())
    if not match:
        raise ValueError(f"{value!r} is not a span like '20:00-08:00'")
    h1, m1, h2, m2 = (int(g) for g in match.groups())
    if h1 > 23 or h2 > 24 or m1 > 59 or m2 > 59 or (h2 == 24 and m2):
        raise ValueError(f"{value!r} has an impossible time")
    return time(h1, m1), time(h2 % 24, m2)


class ServiceLevels(Strict):
    """How the SLA engine runs: sweep interval, experts' quiet hours and digests, the compliance target."""

    sweep_seconds: float = 30.0
    quiet_hours: str = "20:00-08:00"
    quiet_weekends: bool = True
    digest_minutes: int = 60
    compliance_target: int = 90

    @field_validator("quiet_hours")
    @classmethod
    def _quiet(cls, value: str) -> str:
        parse_quiet_hours(value)
        return value

    _positive = field_validator("sweep_seconds", "digest_minutes")(greater_than_zero)

    @field_validator("compliance_target")
    @classmethod
    def _percent(cls, value: int) -> int:
        if not 1 <= value <= 100:
            raise ValueError("must be between 1 and 100")
        return value


class MatcherThresholds(Strict):
    """When the bot answers, suggests or escalates (scores are calibrated 0..1).

    `languages` holds thresholds for questions in one language (`[matcher.languages.fr]`); a queue's
    own thresholds still win over them.
    """

    answer: float = 0.80
    margin: float = 0.05
    suggest: float = 0.45
    languages: dict[str, MatcherThresholds] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _ordered(self) -> MatcherThresholds:
        for name in ("answer", "margin", "suggest"):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"{name} must be between 0 and 1")
        if self.suggest > self.answer:
            raise ValueError("suggest must not be above answer")
        bad = [lang for lang in self.languages if lang not in LANGUAGES]
        if bad:
            raise ValueError(f"unsupported language(s) {bad}; use {list(LANGUAGES)}")
        return self


class Space(Strict):
    """Where a queue's tickets are announced: a channel and a chat in it."""

    channel: str = "console"
    chat: str


class QueueConfig(Strict):
    """One expert queue."""

    id: str
    name: str
    description: str = ""
    keywords: dict[str, list[str]] = Field(default_factory=dict)
    languages: list[str] = Field(default_factory=lambda: list(LANGUAGES))
    regions: list[str] = Field(default_factory=list)
    leads: list[str] = Field(default_factory=list)
    experts: list[str] = Field(default_factory=list)
    calendar: str = "default"
    auto_assign: bool = False
    spaces: list[Space] = Field(default_factory=list)
    matcher: MatcherThresholds | None = None
    sla: dict[str, SlaPolicy] = Field(default_factory=dict)

    @field_validator("id")
    @classmethod
    def _id(cls, value: str) -> str:
        if not re.fullmatch(r"[A-Z][A-Z0-9_]{1,31}", value):
            raise ValueError("queue ids are 2-32 capitals, digits or '_' (e.g. ENERGY)")
        return value

    @field_validator("languages")
    @classmethod
    def _languages(cls, value: list[str]) -> list[str]:
        bad = [v for v in value if v not in LANGUAGES]
        if bad:
            raise ValueError(f"unsupported language(s) {bad}; use {list(LANGUAGES)}")
        return value

    @field_validator("sla")
    @classmethod
    def _priorities(cls, value: dict[str, SlaPolicy]) -> dict[str, SlaPolicy]:
        bad = [p for p in value if p not in PRIORITIES]
        if bad:
            raise ValueError(f"unknown priority {bad}; use {list(PRIORITIES)}")
        return value


class ServiceInfo(Strict):
    """Service-wide settings."""

    name: str = "Remote Expert Advisory Service"
    default_language: Literal["en", "es", "fr"] = "en"
    expert_display: Literal["name", "anonymous"] = "name"
    reopen_days: int = 14
    max_message_chars: int = 4000
    max_attachment_mb: int = 20
    messages_per_minute: int = 20
    max_open_tickets: int = 5
    retention_months: int = 24
    outbox_warn_minutes: int = 10
    attachment_types: list[str] = Field(default_factory=lambda: [
        "image/", "application/pdf", "text/plain", "text/csv", "application/vnd.openxmlformats-officedocument.",
        "application/vnd.ms-excel", "application/msword", "application/vnd.oasis.opendocument."])
    secretariat_spaces: list[Space] = Field(default_factory=list)
    secretariat: list[str] = Field(default_factory=list)

    _positive = field_validator("reopen_days", "max_message_chars", "max_attachment_mb", "messages_per_minute",
                                "max_open_tickets", "retention_months", "outbox_warn_minutes")(greater_than_zero)

    @property
    def max_attachment_bytes(self) -> int:
        """The file size limit (`max_attachment_mb`) in bytes."""
        return self.max_attachment_mb * 1024 * 1024

    def accepts_type(self, mime: str) -> bool:
        """Whether files of this MIME type may be passed on (`attachment_types` are prefixes)."""
        return any(mime.startswith(allowed) for allowed in self.attachment_types)


class Learning(Strict):
    """Shared learning: when practitioners are asked whether they applied the advice (docs/learning.md)."""

    outcome_days: int = 30  # after a ticket is resolved or an FAQ answer was marked "This helped"
    outcome_window_days: int = 14  # asked within this many days of falling due, else never (e.g. after downtime)
    digest_weekday: Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"] = "mon"  # topic digests: weekly …
    digest_hour: int = 9  # … from this hour in the subscriber's time zone (outside their quiet hours)

    @field_validator("digest_hour")
    @classmethod
    def _hour(cls, value: int) -> int:
        if not 0 <= value <= 23:
            raise ValueError("must be an hour from 0 to 23")
        return value

    _positive = field_validator("outcome_days", "outcome_window_days")(greater_than_zero)


class ServiceConfig(Strict):
    """The whole service configuration."""

    service: ServiceInfo = Field(default_factory=ServiceInfo)
    matcher: MatcherThresholds = Field(default_factory=MatcherThresholds)
    calendars: dict[str, CalendarConfig] = Field(default_factory=lambda: {"default": CalendarConfig()})
    sla: dict[str, SlaPolicy] = Field(default_factory=lambda: {"default": SlaPolicy()})
    service_levels: ServiceLevels = Field(default_factory=ServiceLevels)
    learning: Learning = Field(default_factory=Learning)
    queues: list[QueueConfig]

    @model_validator(mode="after")
    def _references(self) -> ServiceConfig:
        ids = [q.id for q in self.queues]
        if len(set(ids)) != len(ids):
            raise ValueError(f"duplicate queue ids in {ids}")
        if not ids:
            raise ValueError("at least one queue is needed")
        bad_sla = [p for p in self.sla if p not in (*PRIORITIES, "default")]
        if bad_sla:
            raise ValueError(f"sla: unknown priority {bad_sla}; use default or {list(PRIORITIES)}")
        for q in self.queues:
            if q.calendar not in self.calendars:
                raise ValueError(f"queue {q.id}: unknown calendar {q.calendar!r}")
        return self

    def queue(self, queue_id: str) -> QueueConfig:
        """The queue with this id (KeyError when unknown)."""
        for q in self.queues:
            if q.id == queue_id:
                return q
        raise KeyError(queue_id)

    @property
    def staff_handles(self) -> set[str]:
        """Every expert, lead and secretariat member the config names."""
        return {h for q in self.queues for h in (*q.experts, *q.leads)} | set(self.service.secretariat)

    @property
    def queue_ids(self) -> list[str]:
        """Every queue id, in config order."""
        return [q.id for q in self.queues]

    def thresholds(self, queue_id: str | None) -> MatcherThresholds:
        """Matcher thresholds for a queue (its own, else the service default)."""
        if queue_id is not None:
            for q in self.queues:
                if q.id == queue_id and q.matcher is not None:
                    return q.matcher
        return self.matcher

    def policy(self, queue_id: str, priority: str) -> SlaPolicy:
        """The SLA policy for a queue and priority: queue override, then service, then default."""
        queue = self.queue(queue_id)
        for table in (queue.sla, self.sla):
            if priority in table:
                return table[priority]
        return queue.sla.get("default", self.sla.get("default", SlaPolicy()))


def config_warnings(config: ServiceConfig, today: date) -> list[str]:
    """What is allowed but probably a mistake: past closed days, queues whose escalations skip a lead."""
    found = [f"calendars.{name}.closed_days: {day} is in the past"
             for name, cal in config.calendars.items() for day in cal.closed_days if date.fromisoformat(day) < today]
    found += [f"queues[{q.id}].leads: no lead, so escalations go straight to the secretariat"
              for q in config.queues if not q.leads]
    return found


def _key(loc: tuple[int | str, ...], data: dict[str, Any]) -> str:
    """Turn a pydantic location into a readable TOML key (`queues[2].id` -> `queues[ENERGY].id`)."""
    parts: list[str] = []
    node: Any = data
    for item in loc:
        if isinstance(item, int):
            label = str(item)
            if isinstance(node, list) and item < len(node):
                node = node[item]
                if isinstance(node, dict) and "id" in node:
                    label = str(node["id"])
            parts[-1] = f"{parts[-1]}[{label}]" if parts else f"[{label}]"
            continue
        parts.append(str(item))
        node = node.get(item) if isinstance(node, dict) else None
    return ".".join(parts) or "(top level)"


def parse_config(text: str, path: str = "<config>") -> ServiceConfig:
    """Parse and validate config text; raise ConfigError naming the file, key and problem."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(path, [f"not valid TOML: {exc}"]) from None
    try:
        return ServiceConfig.model_validate(data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            message = err["msg"].removeprefix("Value error, ")
            problems.append(f"{_key(err['loc'], data)}: {message}")
        raise ConfigError(path, problems) from None


def load_config(path: Path | None = None) -> ServiceConfig:
    """Load the service config file (the shipped example when none is given)."""
    path = path or DEFAULT_CONFIG
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(str(path), [f"cannot read: {exc.strerror}"]) from None
    return parse_config(text, str(path))
