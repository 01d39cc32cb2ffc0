"""Schemathesis against the OpenAPI document, in-process through the WSGI app, as an
admin (the role that reaches every operation): for every operation, generated requests
(valid and invalid) never get a 5xx, and every response matches the documented status
codes, content type and schema. Bounded: a fixed seed and at most 25 examples per
operation (10 for the analytical ones, which compute on the database)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from api_helpers import Company
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, given, seed, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from pilotage.web.wsgi import application

pytestmark = pytest.mark.django_db

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
ANALYTICS = {"kpis", "attribution", "levers", "contact_score"}
# Uploads start background threads that outlive a rolled-back test: test_imports.py.
SKIPPED = {"import_start"}


def _schema() -> Any:
    return schemathesis.openapi.from_wsgi("/api/v1/openapi.json", application)


def _operation_ids() -> list[str]:
    schema = application  # the app must be importable before collecting
    del schema
    from pilotage.web.api.api import api

    document = api.get_openapi_schema(path_prefix="/api/v1/")
    ids = [
        operation["operationId"]
        for path in document["paths"].values()
        for operation in path.values()
    ]
    return [operation_id for operation_id in ids if operation_id not in SKIPPED]


@pytest.fixture
def in_process_requests() -> Iterator[None]:
    """Requests run inside the test's transaction: keep Django from closing the
    connection at each request (as its own test client does)."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


@pytest.mark.parametrize("operation_id", _operation_ids())
def test_operation_conforms(company: Company, in_process_requests: None, operation_id: str) -> None:
    schema = _schema()
    operation = schema.find_operation_by_id(operation_id)
    headers = {"Authorization": f"Bearer {company.tokens['admin']}"}
    examples = 10 if operation_id in ANALYTICS else 25

    @seed(20241127)
    @settings(
        max_examples=examples,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy())
    def check(case: Any) -> None:
        case.call_and_validate(headers=headers, checks=CHECKS)

    check()
