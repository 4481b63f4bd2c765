from django.conf import settings
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from annotator.throttling import login_rate_limited

urlpatterns = [
    # The admin's sign-in form under the same limits as the login page (it is the same kind
    # of door, to more powerful accounts).
    path("admin/login/", login_rate_limited(admin.site.login)),
    path("admin/", admin.site.urls),
    path(
        "accounts/login/",
        login_rate_limited(auth_views.LoginView.as_view(template_name="registration/login.html")),
        name="login",
    ),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("", include("annotator.urls")),
]

if settings.DEBUG:
    from django.conf.urls.static import static

    urlpatterns += static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)
