"""Print the PostgreSQL URL given if a server answers there (for `make test`), else nothing."""

from __future__ import annotations

import sys

import psycopg


def main() -> int:
    url = sys.argv[1]
    try:
        psycopg.connect(url, connect_timeout=3).close()
    except psycopg.Error:
        return 0
    print(url)
    return 0


if __name__ == "__main__":
    sys.exit(main())
