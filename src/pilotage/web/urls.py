from django.contrib.auth import views as auth_views
from django.urls import include, path

from pilotage.web.accounts import views

urlpatterns = [
    path("", views.home, name="home"),
    path(
        "login/",
        auth_views.LoginView.as_view(template_name="accounts/login.html"),
        name="login",
    ),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("language/", views.set_language, name="set_language"),
    path("healthz", views.health, name="health"),
    path("", include("pilotage.web.api.urls")),
    path("", include("pilotage.web.dashboard.urls")),
]
