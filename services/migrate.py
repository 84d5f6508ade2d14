"""Migrate one service's database in a short-lived process: ``python -m services.migrate``.

A service's own process (:func:`services.runner.run_service`) runs its migrations here, so that
it never imports Alembic and Mako itself (see :attr:`services.db.Database.migrate_apart`). The
request comes as JSON on standard input (``url``, ``schema``, ``migrations``: the URL may hold a
password, so it is not an argument); the answer is one JSON line on standard output:
``{"revision": ...}``, or ``{"message": ..., "detail": ...}`` with exit code 1.
"""

from __future__ import annotations

import json
import sys

from services.db import Database, DatabaseError


def main() -> int:
    """Migrate the database the request on standard input names; return the exit code."""
    request = json.loads(sys.stdin.read())
    db = Database(request["url"], schema=request["schema"])
    try:
        revision = db.upgrade_here(request["migrations"])
    except DatabaseError as exc:
        print(json.dumps({"message": exc.message, "detail": exc.detail}))
        return 1
    finally:
        db.dispose()
    print(json.dumps({"revision": revision}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
