"""A small generated company in the test database, and users of every role."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.contrib.auth import get_user_model

from pilotage.contract.settings import load_settings
from pilotage.demo.generator import generate_company
from pilotage.web.accounts.models import Profile, Role
from pilotage.web.crm.models import Contact, Rep
from pilotage.web.crm.services.importing import folder_import
from pilotage.web.dashboard import cache as kpi_cache


@pytest.fixture(scope="session")
def company_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("company")
    generate_company(folder, contacts=300, seed=7)
    return folder


@pytest.fixture
def company(company_folder: Path, transactional_db: None) -> Path:
    """The company loaded and committed (the engine reads the database on its own
    connection), with an empty KPI cache."""
    kpi_cache.clear()
    report = folder_import(folder=company_folder, settings=load_settings(None, company_folder))
    assert report.loaded
    return company_folder


def make_user(username: str, role: str, rep: Rep | None = None, team: str | None = None):
    user = get_user_model().objects.create_user(username, password="a-long-passphrase-42")
    Profile.objects.create(user=user, role=role, rep=rep, team=team)
    return user


@pytest.fixture
def admin_client(client, company):
    user = make_user("boss", Role.ADMIN)
    client.force_login(user)
    return client


@pytest.fixture
def rep_and_other_contact(company):
    """A rep user, and a contact owned by a rep of another team."""
    rep = Rep.objects.exclude(team=None).order_by("rep_id").first()
    assert rep is not None
    other = Contact.objects.exclude(owner__team=rep.team).exclude(owner=None).first()
    assert other is not None
    return make_user("rita", Role.REP, rep=rep, team=rep.team), rep, other
