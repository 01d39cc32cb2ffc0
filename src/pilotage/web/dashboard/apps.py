from django.apps import AppConfig


class DashboardConfig(AppConfig):
    name = "pilotage.web.dashboard"
    label = "dashboard"
    verbose_name = "Dashboard"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from pilotage.web.dashboard import cache, warming

        # A committed write tells this process's cache warmer (warming.py).
        cache.on_data_changed(warming.after_data_changed)
