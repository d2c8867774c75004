"""The revisions (one file each; Alembic reads the ``revision`` / ``down_revision``
variables, not the file names) and what they share: :func:`run`, which executes the
statements of the connection's dialect."""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

from zkattest.store.errors import StoreError

__all__ = ["run"]


def run(*, sqlite: Sequence[str], postgresql: Sequence[str]) -> None:
    """Execute the statements written for the dialect of the migration connection, one
    by one, as they are (no bind-parameter parsing: the SQL holds none)."""
    bind = op.get_bind()
    name = bind.dialect.name
    if name == "sqlite":
        statements = sqlite
    elif name == "postgresql":
        statements = postgresql
    else:
        raise StoreError(f"no store migrations for the {name} dialect")
    for statement in statements:
        bind.exec_driver_sql(statement)
