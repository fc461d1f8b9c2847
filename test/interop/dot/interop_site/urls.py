from django.urls import include, path

from . import views

urlpatterns = [
    # DOT's endpoints: token, revoke_token, introspect (and its management views, unused here).
    path("o/", include("oauth2_provider.urls", namespace="oauth2_provider")),
    path("api/dot/orders/", views.DotOrdersView.as_view()),
    path("api/orders/", views.Rfc6750OrdersView.as_view()),
    path("interop/counts/", views.counts),
]
