"""Log-in, home page and language, through Django's test client on the real database."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model

from pilotage.web.accounts.models import Profile, Role
from pilotage.web.accounts.services import demo_user_ensure

pytestmark = pytest.mark.django_db


def test_pages_need_a_login(client):
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"] == "/login/?next=/"


def test_demo_user_logs_in_and_sees_home(client):
    demo_user_ensure(username="demo", password="demo")
    response = client.post("/login/", {"username": "demo", "password": "demo"})
    assert response.status_code == 302
    home = client.get("/", follow=True)
    assert home.status_code == 200
    assert home.redirect_chain[-1][0] == "/dashboard/"
    assert "<h1>Dashboard</h1>" in home.content.decode()
    assert Profile.objects.get(user__username="demo").role == Role.ADMIN


def test_wrong_password_is_refused(client):
    get_user_model().objects.create_user("ann", password="a-long-passphrase-42")
    response = client.post("/login/", {"username": "ann", "password": "nope"})
    assert response.status_code == 200
    assert "didn't match" in response.content.decode()


def test_the_french_page_is_in_french(client):
    response = client.get("/login/", HTTP_ACCEPT_LANGUAGE="fr")
    page = response.content.decode()
    assert '<html lang="fr">' in page
    assert "Connexion à Pilotage" in page
    assert "Mot de passe" in page


def test_the_language_switch_sets_a_cookie(client):
    response = client.post("/language/", {"language": "fr", "next": "/login/"})
    assert response.status_code == 302
    assert response.cookies["django_language"].value == "fr"
    assert "Connexion" in client.get("/login/").content.decode()


def test_the_language_switch_does_not_redirect_elsewhere(client):
    response = client.post("/language/", {"language": "en", "next": "https://evil.example/"})
    assert response["Location"] == "/"
