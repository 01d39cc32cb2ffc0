"""The WSGI application served by `pilotage serve` (waitress) or any WSGI server."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pilotage.web.settings")
application = get_wsgi_application()
