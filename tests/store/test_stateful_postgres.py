"""The lifecycle state machine of :mod:`.test_stateful` against PostgreSQL: one schema,
emptied between runs (its own file: every query is a round trip to the server)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hypothesis import settings

from . import test_stateful
from .conftest import NO_PG, PG_URL, drop_schema


class PostgresStoreMachine(test_stateful.StoreMachine):
    backend = "postgres"


@pytest.fixture(scope="module", autouse=True)
def _drop_machine_schema() -> Iterator[None]:
    yield
    if test_stateful._PG_SCHEMA:
        drop_schema(test_stateful._PG_SCHEMA.pop())


TestPostgresStoreLifecycle = pytest.mark.skipif(not PG_URL, reason=NO_PG)(
    PostgresStoreMachine.TestCase
)
# at most 30 runs of 60 steps (the SQLite machine does 100): about 15 s here
TestPostgresStoreLifecycle.settings = settings(
    max_examples=min(30, settings().max_examples), stateful_step_count=60
)
