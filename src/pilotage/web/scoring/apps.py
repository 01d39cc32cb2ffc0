from django.apps import AppConfig


class ScoringConfig(AppConfig):
    name = "pilotage.web.scoring"
    label = "scoring"
    verbose_name = "Scoring"
    default_auto_field = "django.db.models.BigAutoField"
