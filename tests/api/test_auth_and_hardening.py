"""Tokens, sessions and CSRF, rate limits, the user command's password policy, the
production settings, the docs page and safe CSV output."""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
from typing import Any

import pytest
from api_helpers import PASSWORD, Company, post_json
from django.contrib.auth import get_user_model
from django.test import Client

from pilotage.cli import main
from pilotage.web.accounts.models import ApiToken, Profile
from pilotage.web.accounts.tokens import hash_token
from pilotage.web.exports import safe_csv_value, write_safe_csv

pytestmark = pytest.mark.django_db


def test_tokens_are_stored_hashed_used_and_revocable(
    company: Company, capsys: pytest.CaptureFixture[str]
) -> None:
    plaintext = company.tokens["rep"]
    token = ApiToken.objects.get(prefix=plaintext.split("_")[1])
    assert token.token_hash == hash_token(plaintext)
    assert plaintext not in token.token_hash
    assert token.last_used_at is None
    client = company.client("rep")
    assert client.get("/api/v1/contacts").status_code == 200
    token.refresh_from_db()
    assert token.last_used_at is not None
    wrong = Client(HTTP_HOST="localhost", HTTP_AUTHORIZATION=plaintext[:-2] + "xx")
    assert wrong.get("/api/v1/contacts").status_code == 401
    assert main(["token", "revoke", token.prefix]) == 0
    assert client.get("/api/v1/contacts").status_code == 401
    # The command shows a new token once, and it works.
    capsys.readouterr()
    assert main(["token", "create", "rep", "--read-only"]) == 0
    shown = capsys.readouterr().out.strip()
    assert re.fullmatch(r"pil_[0-9a-f]{8}_[A-Za-z0-9_\-]{43}", shown)
    reader = Client(HTTP_HOST="localhost", HTTP_AUTHORIZATION=f"Bearer {shown}")
    assert reader.get("/api/v1/contacts").status_code == 200
    assert post_json(reader, "/api/v1/interactions", {}).status_code in (403, 422)
    assert main(["token", "list", "rep"]) == 0
    assert shown.split("_")[2] not in capsys.readouterr().out


def test_session_writes_need_the_csrf_token(company: Company) -> None:
    browser = Client(HTTP_HOST="localhost", enforce_csrf_checks=True)
    assert browser.login(username="rep", password=PASSWORD)
    assert browser.get("/api/v1/contacts/c1").status_code == 200
    row = {"attributes": {"via": "browser"}}
    refused = browser.patch("/api/v1/contacts/c1", row, content_type="application/json")
    assert refused.status_code == 403
    browser.get("/login/")  # sets the CSRF cookie
    token = browser.cookies["csrftoken"].value
    accepted = browser.patch(
        "/api/v1/contacts/c1", row, content_type="application/json", HTTP_X_CSRFTOKEN=token
    )
    assert accepted.status_code == 200, accepted.content
    # A bearer token is not a browser credential: no CSRF token needed.
    tokened = Client(
        HTTP_HOST="localhost",
        enforce_csrf_checks=True,
        HTTP_AUTHORIZATION=f"Bearer {company.tokens['rep']}",
    )
    assert (
        tokened.patch("/api/v1/contacts/c1", row, content_type="application/json").status_code
        == 200
    )


def test_api_rate_limit_answers_429_with_retry_after(company: Company, settings: Any) -> None:
    settings.PILOTAGE_API_RATE_LIMIT = 5
    client = company.client("rep")
    codes = [client.get("/api/v1/contacts").status_code for _ in range(7)]
    assert codes[:5] == [200] * 5
    assert codes[5:] == [429, 429]
    limited = client.get("/api/v1/contacts")
    assert limited.json()["error"] == "rate_limited"
    assert 1 <= int(limited["Retry-After"]) <= 61
    # Per token: another token is not slowed down.
    assert company.client("manager").get("/api/v1/contacts").status_code == 200


def test_login_is_locked_after_ten_failures(company: Company) -> None:
    browser = Client(HTTP_HOST="localhost")
    for _ in range(10):
        response = browser.post("/login/", {"username": "rep", "password": "wrong"})
        assert response.status_code == 200  # the form again, with its error
    # Locked: even the right password is refused, for this user name...
    browser.post("/login/", {"username": "rep", "password": PASSWORD})
    assert "_auth_user_id" not in browser.session
    # ... and from this address, for other names too.
    browser.post("/login/", {"username": "admin", "password": PASSWORD})
    assert "_auth_user_id" not in browser.session
    other = Client(HTTP_HOST="localhost", REMOTE_ADDR="10.1.2.3")
    other.post("/login/", {"username": "admin", "password": PASSWORD})
    assert "_auth_user_id" in other.session


def test_user_create_enforces_the_password_policy(
    company: Company, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO("short-Pw1\n"))
    assert (
        main(["user", "create", "zoe", "--role", "rep", "--rep-id", "r2", "--password-stdin"]) == 1
    )
    assert "at least 12 characters" in capsys.readouterr().err
    monkeypatch.setattr(sys, "stdin", io.StringIO("123456789012345\n"))
    assert (
        main(["user", "create", "zoe", "--role", "rep", "--rep-id", "r2", "--password-stdin"]) == 1
    )
    monkeypatch.setattr(sys, "stdin", io.StringIO("a-long-and-fine-passphrase\n"))
    assert (
        main(["user", "create", "zoe", "--role", "rep", "--rep-id", "r2", "--password-stdin"]) == 0
    )
    profile = Profile.objects.get(user__username="zoe")
    assert (profile.role, profile.rep_id, profile.team) == ("rep", "r2", "North")
    monkeypatch.setattr(sys, "stdin", io.StringIO("a-long-and-fine-passphrase\n"))
    assert main(["user", "create", "max", "--role", "manager", "--password-stdin"]) == 1
    assert "--team" in capsys.readouterr().err
    assert not get_user_model().objects.filter(username="max").exists()


def test_docs_page_loads_nothing_from_outside(company: Company) -> None:
    page = Client(HTTP_HOST="localhost").get("/api/v1/docs")
    assert page.status_code == 200
    html = page.content.decode()
    assert not re.search(r"(src|href)=\"(https?:)?//", html)
    assert '"validatorUrl": null' in html
    for asset in re.findall(r"(?:src|href)=\"(/static/[^\"]+)\"", html):
        assert Client(HTTP_HOST="localhost").get(asset).status_code == 200, asset
    schema = Client(HTTP_HOST="localhost").get("/api/v1/openapi.json").json()
    assert schema["openapi"].startswith("3.")
    for table in ("contacts", "stage_changes", "spend", "reps"):
        assert f"/api/v1/{table}/batch" in schema["paths"]


@pytest.mark.parametrize(
    ("value", "safe"),
    [
        ('=HYPERLINK("http://x")', '\'=HYPERLINK("http://x")'),
        ("+1 555 0100", "'+1 555 0100"),
        ("-1+2", "'-1+2"),
        ("-5.00", "-5.00"),  # a plain number, even as text, is not a formula
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tcmd", "'\tcmd"),
        ("\rcmd", "'\rcmd"),
        ("plain", "plain"),
        (-5, -5),
        (None, None),
    ],
)
def test_safe_csv_value(value: Any, safe: Any) -> None:
    assert safe_csv_value(value) == safe


def test_write_safe_csv() -> None:
    out = io.StringIO()
    write_safe_csv(out, ["name", "amount"], [["=1+1", 3], [None, -2]])
    assert out.getvalue() == "name,amount\n'=1+1,3\n,-2\n"


def _deploy_check(**environment: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PILOTAGE_")}
    env["PILOTAGE_HOME"] = os.environ["PILOTAGE_HOME"]
    env["DJANGO_SETTINGS_MODULE"] = "pilotage.web.settings"
    env.update(environment)
    return subprocess.run(
        [sys.executable, "-m", "django", "check", "--deploy", "--fail-level", "WARNING"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=120,
    )


def test_check_deploy_is_clean_in_production() -> None:
    production = {
        "PILOTAGE_PRODUCTION": "1",
        "PILOTAGE_SECRET_KEY": "x7!Lq" * 12,
        "PILOTAGE_ALLOWED_HOSTS": "crm.example.com",
    }
    result = _deploy_check(**production)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout
    # Production refuses to start without its secret key.
    missing = _deploy_check(PILOTAGE_PRODUCTION="1", PILOTAGE_ALLOWED_HOSTS="crm.example.com")
    assert missing.returncode != 0
    assert "PILOTAGE_SECRET_KEY" in missing.stderr
