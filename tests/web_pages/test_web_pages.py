"""Every page through Django's test client: status, permissions and content."""

from __future__ import annotations

import json

import pytest

from pilotage.engine.backends import from_database_url
from pilotage.engine.compute import compute_kpis
from pilotage.web.crm.models import Contact, Interaction, StageChange
from pilotage.web.dashboard.cache import data_version
from pilotage.web.dashboard.models import CompanySetting, KpiTarget, PinnedKpi
from pilotage.web.scoring.services import active_scoring_model

PAGES = [
    ("/dashboard/", "Pinned KPIs"),
    ("/kpis/", "Why it matters"),
    ("/kpis/revenue/", "The SQL it runs"),
    ("/kpis/expected_wins/", "it has no SQL that runs on its own"),
    ("/kpis/stage_conversion/?by=channel", "Funnel steps"),
    ("/funnel/", "Conversion vs early churn, per channel"),
    ("/attrition/", "Cohort retention"),
    ("/acquisition/", "Levers per channel"),
    ("/team/", "Ranking"),
    ("/contacts/", "Customer or prospect"),
    ("/contacts/?sort=name&kind=customer&stage=customer", "Customer or prospect"),
    ("/contacts/?sort=-priority&segment=champions&score_min=0&score_max=100", "Highest priority"),
    ("/imports/", "Recent imports"),
    ("/scoring/model/", "Check and preview"),
    ("/settings/", "Company settings"),
]


def engine_url() -> str:
    """The test database as the engine reads it (SQLite or PostgreSQL)."""
    from pilotage.web.dashboard.analytics import engine_database_url

    return engine_database_url()


def test_pages_need_a_login(client):
    for url, _text in PAGES:
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith("/login/")


def test_every_page_answers_for_an_administrator(admin_client):
    for url, text in PAGES:
        response = admin_client.get(url)
        assert response.status_code == 200, url
        assert text in response.content.decode(), url
    contact = Contact.objects.order_by("contact_id").first()
    page = admin_client.get(f"/contacts/{contact.contact_id}/").content.decode()
    assert "Timeline" in page
    assert "Why: the rules that fired" in page


def test_a_pinned_kpi_shows_the_engines_value(admin_client):
    admin_client.post("/kpis/orders/pin/", {"pin": "1"})
    page = admin_client.get("/dashboard/?grain=quarter").content.decode()
    result = compute_kpis(from_database_url(engine_url()), grain="quarter", kpis=["orders"])
    last = result.rows[-1]
    assert 'data-kpi="orders"' in page
    assert f'data-value="{last.value}"' in page
    assert last.period in page


def test_pin_unpin_and_targets(admin_client):
    admin_client.post("/kpis/revenue/pin/", {"pin": "0"})
    names = list(PinnedKpi.objects.values_list("kpi", flat=True))
    assert "revenue" not in names
    assert "win_rate" in names  # the defaults became the user's
    response = admin_client.post("/kpis/win_rate/target/", {"grain": "month", "value": "40"})
    assert response.status_code == 302
    assert KpiTarget.objects.get(kpi="win_rate", grain="month").value == pytest.approx(0.4)
    page = admin_client.get("/dashboard/?grain=month").content.decode()
    assert "Target" in page
    assert "gap" in page


def test_catalogue_search(admin_client):
    page = admin_client.get("/kpis/?q=churn").content.decode()
    assert "Customer churn rate" in page
    assert "Average order value" not in page


def test_a_rep_sees_only_its_contacts(client, rep_and_other_contact):
    user, rep, other = rep_and_other_contact
    client.force_login(user)
    assert client.get(f"/contacts/{other.contact_id}/").status_code == 404
    own = Contact.objects.filter(owner=rep).first()
    assert client.get(f"/contacts/{own.contact_id}/").status_code == 200
    listing = client.get("/contacts/").content.decode()
    assert other.contact_id not in listing
    for url in ("/funnel/", "/attrition/", "/acquisition/", "/settings/", "/imports/"):
        assert client.get(url).status_code == 403, url
    # A rep's dashboard shows its own numbers (KPIs with an owner breakdown).
    assert client.get("/dashboard/").status_code == 200
    assert client.get("/kpis/acquisition_spend/").status_code == 403
    team = client.get("/team/").content.decode()
    assert rep.name in team


def test_logging_an_interaction_and_moving_a_stage(admin_client):
    contact = Contact.objects.order_by("contact_id").first()
    before = data_version()
    response = admin_client.post(
        f"/contacts/{contact.contact_id}/log/", {"type": "call", "note": "asked for a quote"}
    )
    assert response.status_code == 302
    logged = Interaction.objects.filter(contact=contact, type="call").latest("occurred_at")
    assert logged.attributes["note"] == "asked for a quote"
    admin_client.post(f"/contacts/{contact.contact_id}/stage/", {"stage": "sql"})
    assert StageChange.objects.filter(contact=contact, stage="sql").exists()
    assert data_version() > before
    bad = admin_client.post(f"/contacts/{contact.contact_id}/stage/", {"stage": "nowhere"})
    assert bad.status_code == 302
    assert not StageChange.objects.filter(contact=contact, stage="nowhere").exists()


def test_settings_are_stored_for_the_engine(admin_client):
    page = admin_client.get("/settings/").content.decode()
    assert 'name="timezone"' in page
    form = {
        "timezone": "Europe/Paris",
        "currency": "EUR",
        "week_start": "monday",
        "inactivity_days": "180",
        "conversion_window_days": "90",
        "attribution_lookback_days": "90",
        "time_decay_half_life_days": "7",
        "revenue_window_days": "365",
        "gross_margin": "0.4",
        "journey_stages": "lead, mql, sql, opportunity, customer",
        "discount_rate": "0.01",
        "clv_horizon_months": "12",
        "min_customers": "10",
        "attribution_model": "linear",
    }
    assert admin_client.post("/settings/", form).status_code == 302
    assert json.loads(CompanySetting.objects.get(name="timezone").value) == "Europe/Paris"
    assert from_database_url(engine_url()).settings.gross_margin == pytest.approx(0.4)
    refused = admin_client.post("/settings/", {**form, "timezone": "Mars/Olympus"})
    assert refused.status_code == 200
    assert "timezone" in refused.content.decode()
    assert json.loads(CompanySetting.objects.get(name="timezone").value) == "Europe/Paris"


def test_scoring_model_editor_validates_with_positions(admin_client):
    bad = (
        'name = "m"\n[[group]]\nname = "fit"\nmax = 10\n'
        '  [[group.rule]]\n  when = "employes >= 5"\n  points = 5\n'
    )
    page = admin_client.post("/scoring/model/", {"text": bad, "action": "save"}).content.decode()
    assert "The model is refused" in page
    assert "model:6:" in page  # the line of the condition
    good = bad.replace("employes", "employees")
    preview = admin_client.post("/scoring/model/", {"text": good, "action": "check"})
    assert "The scores this model would give" in preview.content.decode().replace(
        "Preview: the scores", "The scores"
    )
    saved = admin_client.post("/scoring/model/", {"text": good, "action": "save"})
    assert saved.status_code == 302
    assert "employees &gt;= 5" in admin_client.get("/scoring/model/").content.decode()
    # The scoring app's active model, which every stored score comes from.
    assert active_scoring_model().name == "m"


def test_the_pages_are_in_french(admin_client):
    page = admin_client.get("/dashboard/", HTTP_ACCEPT_LANGUAGE="fr").content.decode()
    assert '<html lang="fr">' in page
    assert "Tableau de bord" in page
    assert "Nouveaux clients" in page  # a KPI label from the registry


def test_csv_import_with_column_mapping(admin_client, tmp_path):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from pilotage.web.api.imports import import_job_wait
    from pilotage.web.api.models import ImportJob

    data = b"Rep id,Full name,Team\nzz1,Zoe Zed,North\n"
    upload = SimpleUploadedFile("reps.csv", data, content_type="text/csv")
    response = admin_client.post("/imports/", {"file": upload, "table": "reps"})
    assert response.status_code == 302
    mapping_url = response["Location"]
    page = admin_client.get(mapping_url).content.decode()
    assert "Zoe Zed" in page  # the preview
    done = admin_client.post(mapping_url, {"map_0": "rep_id", "map_1": "name", "map_2": "team"})
    assert done.status_code == 302
    job = ImportJob.objects.get()
    import_job_wait(str(job.pk), timeout=60)
    job.refresh_from_db()
    assert job.status == "succeeded", job.message
    status = admin_client.get(f"/imports/{job.pk}/").content.decode()
    assert "reps" in status
