"""The model editor's saved scoring models move to the scoring app's table.

The editor kept its models in `dashboard_scoring_models`, which the contact page read but
the stored scores never did (they came from the scoring app's `scoring_models`). The
latest model saved in the editor becomes the active model of the scoring app, unless that
app already has an active one saved after it; then the editor's table goes.
"""

from django.db import migrations


def keep_the_latest_edited_model(apps, schema_editor):
    edited = apps.get_model("dashboard", "SavedScoringModel")
    records = apps.get_model("scoring", "ScoringModelRecord")
    latest = edited.objects.order_by("-saved_at", "-id").first()
    if latest is None:
        return
    active = records.objects.filter(is_active=True).first()
    if active is not None and active.saved_at >= latest.saved_at:
        return
    previous = records.objects.filter(name=latest.name).order_by("-version").first()
    records.objects.filter(is_active=True).update(is_active=False)
    records.objects.create(
        name=latest.name,
        text=latest.text,
        version=previous.version + 1 if previous else 1,
        is_active=True,
        saved_at=latest.saved_at,
    )


class Migration(migrations.Migration):
    dependencies = [
        ("dashboard", "0002_data_version_nonce"),
        ("scoring", "0003_clv_and_churn_risk"),
    ]

    operations = [
        migrations.RunPython(keep_the_latest_edited_model, migrations.RunPython.noop),
        migrations.DeleteModel(name="SavedScoringModel"),
    ]
