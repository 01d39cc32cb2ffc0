from django.urls import path

from pilotage.web.api.api import api

urlpatterns = [path("api/v1/", api.urls)]
