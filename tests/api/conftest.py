"""Fixtures of the API tests (the company and its users: see api_helpers)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from api_helpers import Company, build_company
from django.core.cache import cache


@pytest.fixture(autouse=True)
def _fresh_limits(settings: Any) -> Iterator[None]:
    """No rate limit in the way of the matrix (the rate-limit test sets its own)."""
    settings.PILOTAGE_API_RATE_LIMIT = 1_000_000
    # Users are created per test: a fast hasher (the policy test checks the real settings).
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def company(db: None) -> Company:
    return build_company()


@pytest.fixture
def company_tx(transactional_db: None) -> Company:
    """The company in committed rows (for threads, subprocesses and servers)."""
    return build_company()
