"""Files practitioners upload in the web chat: checked, stored once per content, described in `stored_file`.

The bytes live under the files directory (HELPDESK_FILES_DIR, created on demand), named by their SHA-256,
so the same file is stored once however often it is sent. Each upload is one `stored_file` row: its name,
size and type, who sent it and the message that carried it (which gives its ticket, hence who may see it).
Only images and common documents are taken. The type comes from the name's extension (never from what the
browser claims) and the content must match it, so an executable, an HTML page or an SVG drawing is refused
whatever it is called.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import os
import secrets
import tempfile
import zipfile
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import ColumnElement, delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.config import ServiceInfo
from bot.core.messages import Attachment
from bot.db.models import Message, StoredFile, Ticket, table

F, M, T = table(StoredFile), table(Message), table(Ticket)
MAX_NAME = 200  # characters of a file name kept
ZIP, OLE = b"PK\x03\x04", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # Office Open XML / OpenDocument; old Office

Sniffer = Callable[[bytes], bool]


def _starts(*magic: bytes) -> Sniffer:
    return lambda data: data.startswith(magic)


def _webp(data: bytes) -> bool:
    return data[:4] == b"RIFF" and data[8:12] == b"WEBP"


def _zip_holding(member: str, content: bytes | None = None) -> Sniffer:
    """A ZIP archive with `member` in it (and, if given, that content: OpenDocument's `mimetype`)."""

    def sniff(data: bytes) -> bool:
        if not data.startswith(ZIP):
            return False
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                info = archive.getinfo(member)
                return content is None or (info.file_size == len(content) and archive.read(info) == content)
        except (zipfile.BadZipFile, KeyError, OSError, ValueError, NotImplementedError):
            return False

    return sniff


def _text(data: bytes) -> bool:
    """Plain text (UTF-8 or Windows-1252) that does not open like markup or a script."""
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        try:
            data.decode("cp1252")
        except UnicodeDecodeError:
            return False
    head = data[:1024].lstrip(b"\xef\xbb\xbf \t\r\n")
    return b"\x00" not in data and not head.startswith((b"<", b"#!"))


def _opendocument(kind: str) -> tuple[str, Sniffer]:
    mime = f"application/vnd.oasis.opendocument.{kind}"
    return mime, _zip_holding("mimetype", mime.encode())


_OOXML = "application/vnd.openxmlformats-officedocument."
TYPES: dict[str, tuple[str, Sniffer]] = {  # extension: (MIME type served, content check)
    "png": ("image/png", _starts(b"\x89PNG\r\n\x1a\n")),
    "jpg": ("image/jpeg", _starts(b"\xff\xd8\xff")),
    "jpeg": ("image/jpeg", _starts(b"\xff\xd8\xff")),
    "gif": ("image/gif", _starts(b"GIF87a", b"GIF89a")),
    "webp": ("image/webp", _webp),
    "pdf": ("application/pdf", _starts(b"%PDF-")),
    "docx": (_OOXML + "wordprocessingml.document", _zip_holding("word/document.xml")),
    "xlsx": (_OOXML + "spreadsheetml.sheet", _zip_holding("xl/workbook.xml")),
    "pptx": (_OOXML + "presentationml.presentation", _zip_holding("ppt/presentation.xml")),
    "odt": _opendocument("text"),
    "ods": _opendocument("spreadsheet"),
    "odp": _opendocument("presentation"),
    "doc": ("application/msword", _starts(OLE)),
    "xls": ("application/vnd.ms-excel", _starts(OLE)),
    "ppt": ("application/vnd.ms-powerpoint", _starts(OLE)),
    "csv": ("text/csv", _text),
    "txt": ("text/plain", _text),
}


def accepted_types(service: ServiceInfo) -> dict[str, str]:
    """The extensions taken (those whose type the config's `attachment_types` allows), with their MIME types."""
    return {ext: mime for ext, (mime, _) in TYPES.items() if service.accepts_type(mime)}


def clean_name(name: str) -> str:
    """A file's own name: no folders, no control characters, at most MAX_NAME characters (the end kept)."""
    base = "".join(c for c in name.replace("\\", "/").rsplit("/", 1)[-1] if c.isprintable()).strip()
    return base[-MAX_NAME:] or "file"


@dataclass(frozen=True)
class Refusal:
    """Why an upload is not taken: a catalog key and its values."""

    key: str
    values: dict[str, object] = field(default_factory=dict)


def too_big(service: ServiceInfo) -> Refusal:
    """The refusal of a file over the size limit."""
    return Refusal("webchat.too_big", {"limit": service.max_attachment_mb})


def check(name: str, data: bytes, service: ServiceInfo) -> str | Refusal:
    """The MIME type of an acceptable upload, or why it is refused (too big, a type not taken, a false name)."""
    if len(data) > service.max_attachment_bytes:
        return too_big(service)
    types = accepted_types(service)
    ext = name.rpartition(".")[2].lower() if "." in name else ""
    if ext not in types or not data or not TYPES[ext][1](data):
        return Refusal("input.file_type", {"name": name, "types": ", ".join(types)})
    return types[ext]


class FileStore:
    """The files directory: one file per content, at `ab/abcdef…` (its SHA-256)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def path(self, sha256: str) -> Path:
        """Where the bytes with this hash are (or would be) kept."""
        return self.directory / sha256[:2] / sha256

    def holds(self, file: Attachment) -> bool:
        """Whether this is a web chat file whose bytes are kept here (so a channel can send it as a file)."""
        return file.channel == "web" and bool(file.sha256) and self.path(file.sha256).is_file()

    def put(self, data: bytes) -> str:
        """Keep the bytes unless the same content is kept already; return their SHA-256."""
        sha256 = hashlib.sha256(data).hexdigest()
        target = self.path(sha256)
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(dir=target.parent, delete=False) as partial:
                partial.write(data)
            os.replace(partial.name, target)  # whole or not at all
        return sha256

    def remove(self, hashes: Iterable[str]) -> None:
        """Delete the bytes with these hashes."""
        for sha256 in hashes:
            self.path(sha256).unlink(missing_ok=True)


def upload_rows(attachments: Iterable[Attachment], person_id: int, message_id: int,
                now: datetime) -> list[dict[str, Any]]:
    """The rows describing a message's web chat uploads; their owner is its sender."""
    return [{"id": a.file_id, "sha256": a.sha256, "name": a.name, "size": a.size, "mime": a.mime,
             "person_id": person_id, "message_id": message_id, "created_at": now}
            for a in attachments if a.channel == "web" and a.sha256]


FILES_PATH = "/files/"  # where the web pages serve a stored file: FILES_PATH + its id


def _guess_mime(name: str) -> str:
    ext = name.rpartition(".")[2].lower() if "." in name else ""
    return TYPES[ext][0] if ext in TYPES else ""


async def relay_to_web(conn: AsyncConnection, attachments: Iterable[Attachment], person_id: int, message_id: int,
                       now: datetime, web_url: str) -> tuple[Attachment, ...]:
    """The attachments of a message for a web chat: a file from a chat platform (an expert's Telegram or Slack
    file) becomes a web chat file with its own `stored_file` row and link, owned by its sender and carried by
    `message_id` (so the upload access rules apply); its bytes are fetched from the platform on the first
    download (`fetch_relayed`)."""
    kept, rows = [], []
    for a in attachments:
        if a.channel in ("", "web"):
            kept.append(a)
            continue
        name = clean_name(a.name or ("photo.jpg" if a.kind == "photo" else "file"))
        file_id = secrets.token_urlsafe(16)
        mime = a.mime or _guess_mime(name)
        rows.append({"id": file_id, "sha256": "", "name": name, "size": a.size, "mime": mime, "person_id": person_id,
                     "message_id": message_id, "created_at": now, "source_channel": a.channel,
                     "source_file_id": a.file_id})
        kept.append(Attachment(a.kind, file_id, name, a.size, mime, "web", web_url + FILES_PATH + file_id))
    await record(conn, rows)
    return tuple(kept)


Download = Callable[[str, int], Awaitable[bytes]]  # a platform's file id, the most bytes taken -> the bytes


class FetchError(Exception):
    """A relayed file could not be fetched from its platform, or is not a file the web chat takes."""


async def fetch_relayed(conn: AsyncConnection, store: FileStore, found: Any, download: Download,
                        service: ServiceInfo) -> tuple[str, str]:
    """Fetch the bytes of a relayed file (a `find` row with an empty sha256) from its platform, check them as
    an upload is checked, keep them in the store; return their SHA-256 and MIME type."""
    try:
        data = await download(found.source_file_id, service.max_attachment_bytes + 1)
    except Exception as exc:  # the platform's errors are its own; the viewer gets a 404 and the log says why
        raise FetchError(f"{found.source_channel} refused file {found.id}: {exc}") from exc
    verdict = check(found.name, data, service)
    if isinstance(verdict, Refusal):
        raise FetchError(f"relayed file {found.id} is not taken: {verdict.key}")
    sha256 = await asyncio.to_thread(store.put, data)
    await conn.execute(update(F).where(F.c.id == found.id).values(sha256=sha256, size=len(data), mime=verdict))
    return sha256, verdict


async def record(conn: AsyncConnection, rows: list[dict[str, Any]]) -> None:
    """Describe uploads (rows from `upload_rows`), in the transaction that stores their messages."""
    if rows:
        await conn.execute(insert(F), rows)


async def find(conn: AsyncConnection, file_id: str) -> Any | None:
    """An upload's row, with the ticket of the message that carried it (`ticket_id`, may be None), whether that
    message was an internal note (`internal`) and the ticket's practitioner (`ticket_person_id`)."""
    return (await conn.execute(select(F, M.c.ticket_id, M.c.internal, T.c.person_id.label("ticket_person_id"))
                               .outerjoin(M, M.c.id == F.c.message_id).outerjoin(T, T.c.id == M.c.ticket_id)
                               .where(F.c.id == file_id))).first()


async def forget(conn: AsyncConnection, store: FileStore | None, where: ColumnElement[bool]) -> int:
    """Delete the uploads matching `where` and the bytes no other upload shares; return how many went.

    The bytes go at once, before the transaction commits: a failed erasure leaves rows without content
    (their links answer 404) rather than content that was asked to go.
    """
    found = {r.sha256 for r in await conn.execute(select(F.c.sha256).where(where))}
    if not found:
        return 0
    hashes = found - {""}  # a relayed file never downloaded has no bytes here
    count = (await conn.execute(delete(F).where(where))).rowcount
    if store is not None:
        shared = {r.sha256 for r in await conn.execute(select(F.c.sha256).where(F.c.sha256.in_(hashes)))}
        store.remove(hashes - shared)
    return int(count)
