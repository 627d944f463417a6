"""Evidence files: checked, hashed and stored content-addressed under the instance folder.

Only listed types are accepted, and the first bytes must match the claimed type, so a
renamed executable is not served back as a PDF. Files are written only after every check
passed; the caller removes the file again if its transaction fails.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from community.errors import InvalidInput, TooLarge
from community.i18n import N_

MAX_EVIDENCE_BYTES = 10 * 1024 * 1024

# extension → (content type, magic prefixes or None for text formats)
ALLOWED_TYPES: dict[str, tuple[str, tuple[bytes, ...] | None]] = {
    "pdf": ("application/pdf", (b"%PDF-",)),
    "png": ("image/png", (b"\x89PNG\r\n\x1a\n",)),
    "jpg": ("image/jpeg", (b"\xff\xd8\xff",)),
    "jpeg": ("image/jpeg", (b"\xff\xd8\xff",)),
    "webp": ("image/webp", (b"RIFF",)),
    "txt": ("text/plain", None),
    "csv": ("text/csv", None),
    "odt": ("application/vnd.oasis.opendocument.text", (b"PK\x03\x04",)),
    "ods": ("application/vnd.oasis.opendocument.spreadsheet", (b"PK\x03\x04",)),
    "docx": ("application/vnd.openxmlformats-officedocument.wordprocessingml.document", (b"PK\x03\x04",)),
    "xlsx": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", (b"PK\x03\x04",)),
}
ALLOWED_LIST = ", ".join(sorted(ALLOWED_TYPES))


@dataclass(frozen=True)
class StoredEvidence:
    sha256: str
    filename: str
    content_type: str
    size: int
    path: Path
    created: bool  # False when the same content was stored before (keep it on rollback)


def check_evidence(filename: str, data: bytes) -> tuple[str, str]:
    """(safe filename, content type), or InvalidInput / TooLarge saying what is wrong."""
    if len(data) > MAX_EVIDENCE_BYTES:
        raise TooLarge(N_("the file is %(size).1f MB; evidence files may be at most 10 MB",
                          size=len(data) / 1048576))
    if not data:
        raise InvalidInput("the evidence file is empty")
    name = os.path.basename((filename or "").replace("\\", "/")).strip()
    ext = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    if ext not in ALLOWED_TYPES:
        raise InvalidInput(N_("files of this type are not accepted; allowed types: %(allowed_list)s",
                              allowed_list=ALLOWED_LIST))
    content_type, magic = ALLOWED_TYPES[ext]
    if magic is None:
        try:
            data[:65536].decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidInput(N_("the file is not UTF-8 text as a .%(ext)s file must be", ext=ext)) from None
    elif not any(data.startswith(m) for m in magic):
        raise InvalidInput(N_("the file's content is not a %(kind)s file", kind=ext.upper()))
    safe = "".join(c if c.isalnum() or c in "._- " else "_" for c in name)[:200] or f"evidence.{ext}"
    return safe, content_type


def store_evidence(root: Path, filename: str, data: bytes) -> StoredEvidence:
    safe, content_type = check_evidence(filename, data)
    digest = hashlib.sha256(data).hexdigest()
    path = evidence_path(root, digest)
    created = not path.exists()
    if created:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".part")
        tmp.write_bytes(data)
        tmp.replace(path)
    return StoredEvidence(digest, safe, content_type, len(data), path, created)


def evidence_path(root: Path, sha256: str) -> Path:
    return Path(root) / "evidence" / sha256[:2] / sha256


def discard(stored: StoredEvidence | None) -> None:
    if stored is not None and stored.created:
        stored.path.unlink(missing_ok=True)
