from django.urls import path

from pilotage.web.dashboard.views import admin, analysis, contacts, kpis

app_name = "dashboard"

urlpatterns = [
    path("dashboard/", kpis.dashboard, name="dashboard"),
    path("kpis/", kpis.catalogue, name="catalogue"),
    path("kpis/<slug:name>/", kpis.kpi_page, name="kpi"),
    path("kpis/<slug:name>/pin/", kpis.kpi_pin_toggle, name="kpi_pin"),
    path("kpis/<slug:name>/target/", kpis.kpi_target, name="kpi_target"),
    path("funnel/", analysis.funnel, name="funnel"),
    path("attrition/", analysis.attrition, name="attrition"),
    path("acquisition/", analysis.acquisition, name="acquisition"),
    path("team/", analysis.team, name="team"),
    path("contacts/", contacts.contact_list, name="contacts"),
    path("contacts/<str:contact_id>/", contacts.contact_page, name="contact"),
    path("contacts/<str:contact_id>/log/", contacts.contact_log, name="contact_log"),
    path("contacts/<str:contact_id>/stage/", contacts.contact_stage, name="contact_stage"),
    path("imports/", admin.imports, name="imports"),
    path("imports/map/<str:token>/", admin.import_map, name="import_map"),
    path("imports/<str:job_id>/", admin.import_job, name="import_job"),
    path("imports/<str:job_id>/rejects.csv", admin.import_rejects, name="import_rejects"),
    path("scoring/model/", admin.scoring_model, name="scoring_model"),
    path("settings/", admin.settings_page, name="settings"),
]
