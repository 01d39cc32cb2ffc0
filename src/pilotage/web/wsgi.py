"""The WSGI application served by `pilotage serve` (waitress) or any WSGI server.

Loading it starts the process's KPI cache warmer (pilotage.web.dashboard.warming), as
PILOTAGE_CACHE_WARMING says.
"""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pilotage.web.settings")
application = get_wsgi_application()

from pilotage.web.dashboard.warming import start_warming  # noqa: E402 - Django is set up

start_warming()
