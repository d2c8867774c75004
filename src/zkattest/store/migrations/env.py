"""Alembic's environment for the store: run the revisions on the connection the runner
gives (``config.attributes["connection"]``), inside the transaction it holds.

The runner (:mod:`zkattest.store.migrate`) opens the connection, takes the migration
lock, begins the transaction and commits it; this file only points Alembic at it, so
every pending revision and the version-table update commit together or not at all.
There is no offline (``--sql``) mode and no engine built from a URL here: use
``zkattest db upgrade``.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from zkattest.store.errors import StoreError
from zkattest.store.migrations import VERSION_TABLE


def _run() -> None:
    connection = context.config.attributes.get("connection")
    if not isinstance(connection, Connection) or context.is_offline_mode():
        raise StoreError("store migrations run through zkattest (zkattest db upgrade)")
    context.configure(
        connection=connection,
        version_table=VERSION_TABLE,
        transactional_ddl=True,
    )
    with context.begin_transaction():
        context.run_migrations()


_run()
