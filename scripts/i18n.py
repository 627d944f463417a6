"""Message catalogues: extract the message ids, update the lv/es catalogues, compile them.

    python scripts/i18n.py extract [OUTPUT]   # translations/messages.pot by default
    python scripts/i18n.py update             # extract, then merge into every messages.po
    python scripts/i18n.py compile            # messages.po -> messages.mo where out of date

The keywords are gettext's, ``_l`` (lazy_gettext) and ``N_`` (community/i18n.py), plus the
domain error classes: ``raise Conflict("...")`` marks its message as it stands, so plain
domain messages need no marker (the web layer translates the final text).
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TRANSLATIONS = ROOT / "translations"
POT = TRANSLATIONS / "messages.pot"
LANGUAGES = ("lv", "es")
# gettext's own keywords are included by pybabel; these are Kopa's (the number is the argument
# that holds the message).
KEYWORDS = (
    "_l", "lazy_gettext", "lazy_ngettext:1,2", "N_", "NP_:1,2", "js_text",
    "_fail:3", "_staff:3", "_require_state:3", "require:5", "_manager:4",
    "require_staff:3",
)


def error_classes() -> list[str]:
    """Every DomainError subclass in the domain packages (their first argument is a message)."""
    sys.path.insert(0, str(ROOT))
    from community.errors import DomainError

    for package in ("community", "booking", "rewards"):
        module = importlib.import_module(package)
        for info in pkgutil.walk_packages(module.__path__, f"{package}."):
            if not info.name.startswith("rewards.chain"):  # web3 only; no messages for people
                importlib.import_module(info.name)
    seen: set[str] = set()
    todo = [DomainError]
    while todo:
        cls = todo.pop()
        seen.add(cls.__name__)
        todo.extend(cls.__subclasses__())
    return sorted(seen)


def pybabel(*args: str) -> None:
    from babel.messages.frontend import CommandLineInterface

    CommandLineInterface().run(["pybabel", "-q", *args])


def extract(output: Path = POT) -> Path:
    output.parent.mkdir(parents=True, exist_ok=True)
    keywords = [arg for k in (*KEYWORDS, *error_classes()) for arg in ("-k", k)]
    pybabel(
        "extract", "-F", str(ROOT / "babel.cfg"), *keywords, "--no-location", "--sort-output",
        "--project", "Kopa", "--msgid-bugs-address", "kopa@localhost", "-o", str(output), str(ROOT),
    )
    return output


def update() -> None:
    extract()
    pybabel("update", "-i", str(POT), "-d", str(TRANSLATIONS), "--no-fuzzy-matching",
            "--ignore-obsolete", "--no-wrap")


def compile_all() -> None:
    for lang in LANGUAGES:
        po = TRANSLATIONS / lang / "LC_MESSAGES" / "messages.po"
        mo = po.with_suffix(".mo")
        if not mo.exists() or mo.stat().st_mtime < po.stat().st_mtime:
            pybabel("compile", "-i", str(po), "-o", str(mo), "-l", lang)


def main(argv: list[str]) -> None:
    command = argv[0] if argv else "compile"
    if command == "extract":
        print(extract(Path(argv[1]) if len(argv) > 1 else POT))
    elif command == "update":
        update()
    elif command == "compile":
        compile_all()
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
