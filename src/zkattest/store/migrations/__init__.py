"""The store's schema history, managed with Alembic for both backends.

``versions/`` holds one revision per schema step (ids ``0001``, ``0002``, ...), each with
the SQL of both dialects; ``env.py`` runs them on a connection the runner
(:mod:`zkattest.store.migrate`) passes in, inside the runner's transaction and lock.

This module imports nothing heavy: a store whose database is already at :data:`HEAD`
opens without importing Alembic or SQLAlchemy.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from ..errors import IncompatibleSchema, StoreError

__all__ = ["HEAD", "LEGACY_REVISIONS", "REVISIONS", "VERSION_TABLE", "SchemaState"]

#: Every revision, oldest first (a linear history; a test checks it against versions/).
REVISIONS: Final = ("0001", "0002", "0003")
#: The revision this code writes and expects.
HEAD: Final = REVISIONS[-1]
#: Alembic's version table, named for zkattest so that it cannot collide with another
#: application's ``alembic_version`` in a shared PostgreSQL schema.
VERSION_TABLE: Final = "zkattest_alembic_version"
#: Versions of the numbered-SQL runner this replaced (its ``schema_version`` table) and
#: the revisions they equal: such databases are stamped, never rebuilt.
LEGACY_REVISIONS: Final = {1: "0001", 2: "0002"}


@dataclass(frozen=True)
class SchemaState:
    """What a database says about its schema, read before (or under) the migration lock."""

    #: the rows of :data:`VERSION_TABLE` (None: there is no such table)
    revisions: tuple[str, ...] | None
    #: ``max(version)`` of the old runner's ``schema_version`` table (None: no such table)
    legacy: int | None
    #: whether a ``verifications`` table exists
    has_tables: bool

    @property
    def at_head(self) -> bool:
        return self.revisions == (HEAD,)

    def current(self) -> str | None:
        """The revision the database is at (None: none applied yet);
        :class:`IncompatibleSchema` for a revision this code does not know."""
        if not self.revisions:
            return None
        if len(self.revisions) != 1 or self.revisions[0] not in REVISIONS:
            shown = ", ".join(repr(r[:32]) for r in self.revisions[:4])
            raise IncompatibleSchema(
                f"database schema revision {shown} is newer than this zkattest supports "
                f"({HEAD}); upgrade zkattest"
            )
        return self.revisions[0]

    def check(self) -> None:
        """Raise what opening this database would raise before migrating anything."""
        self.current()
        if self.revisions is None and self.legacy is not None:
            if self.legacy not in LEGACY_REVISIONS and self.legacy != 0:
                raise IncompatibleSchema(
                    f"database schema version {self.legacy} is newer than this zkattest "
                    f"supports ({HEAD}); upgrade zkattest"
                )
        elif self.revisions is None and self.has_tables:
            raise StoreError(
                "the database has zkattest tables but no schema version; not touching it"
            )
