"""Tampering with a store's access-audit log the way someone with write access to the
store could, for the tests that show ``verify_chain`` and ``phiwatch audit verify`` catch it.
Shared by tests/alerting and tests/api, so it lives here on the tests' path."""

from __future__ import annotations

from typing import Any

import orjson

from alerting.elasticsearch.audit import audit_index
from alerting.sqlite_store import SQLiteAlertStore


def tamper(store: Any, how: str) -> None:
    """Change the stored log the way someone with write access to the store could."""
    if isinstance(store, SQLiteAlertStore):
        db = store._db
        with db:
            if how == "edit":
                doc = orjson.loads(db.execute("SELECT doc FROM audit_log WHERE seq = 3"
                                              ).fetchone()[0])
                doc["actor"] = "someone-else"
                db.execute("UPDATE audit_log SET doc = ? WHERE seq = 3", (orjson.dumps(doc),))
            elif how == "remove":
                db.execute("DELETE FROM audit_log WHERE seq = 3")
            else:  # swap records 3 and 4
                db.execute("UPDATE audit_log SET seq = -1 WHERE seq = 3")
                db.execute("UPDATE audit_log SET seq = 3 WHERE seq = 4")
                db.execute("UPDATE audit_log SET seq = 4 WHERE seq = -1")
        return
    client, index = store.client, audit_index(store.config)
    three = client.get(index=index, id=f"{3:012d}").body["_source"]
    four = client.get(index=index, id=f"{4:012d}").body["_source"]
    if how == "edit":
        client.index(index=index, id=f"{3:012d}", document={**three, "actor": "someone-else"},
                     refresh="true")
    elif how == "remove":
        client.delete(index=index, id=f"{3:012d}", refresh="true")
    else:
        client.index(index=index, id=f"{3:012d}", document=four, refresh="true")
        client.index(index=index, id=f"{4:012d}", document=three, refresh="true")
