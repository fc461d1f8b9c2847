"""
Protected resources and the counters view of the interoperability test project.

- ``/api/dot/orders/`` is Django OAuth Toolkit's own ``ScopedProtectedResourceView``, unchanged: it
  answers a missing, unknown, expired or revoked token with a bare ``403 Forbidden``.
- ``/api/orders/`` validates the token with the same DOT machinery (``verify_request``) but answers
  as RFC 6750 §3 asks: ``401`` with ``WWW-Authenticate: Bearer error="invalid_token"`` for a bad
  token, ``403`` with ``error="insufficient_scope"`` for a token without the required scope.
"""
from django.http import HttpResponse, JsonResponse
from django.views.generic import View
from oauth2_provider.models import get_access_token_model
from oauth2_provider.views.generic import ScopedProtectedResourceView
from oauth2_provider.views.mixins import OAuthLibMixin, ScopedResourceMixin

from . import counters

REQUIRED_SCOPES = ["orders:read"]


def _orders(client_id):
    return JsonResponse({"orders": [], "client_id": client_id})


class DotOrdersView(ScopedProtectedResourceView):
    required_scopes = REQUIRED_SCOPES

    def get(self, request, *args, **kwargs):
        return _orders(None)


class Rfc6750OrdersView(ScopedResourceMixin, OAuthLibMixin, View):
    required_scopes = REQUIRED_SCOPES

    def dispatch(self, request, *args, **kwargs):
        valid, oauth_request = self.verify_request(request)
        if valid:
            return super().dispatch(request, *args, client_id=oauth_request.client.client_id, **kwargs)
        if _known_token(request):
            return _challenge(403, 'Bearer error="insufficient_scope", scope="%s"' % " ".join(REQUIRED_SCOPES))
        if "HTTP_AUTHORIZATION" not in request.META:
            return _challenge(401, "Bearer")
        return _challenge(401, 'Bearer error="invalid_token"')

    def get(self, request, *args, client_id=None, **kwargs):
        return _orders(client_id)


def _known_token(request):
    """True when the request carries a bearer token that exists and has not expired (so scope is what failed)."""
    header = request.META.get("HTTP_AUTHORIZATION", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value:
        return False
    token = get_access_token_model().objects.filter(token=value.strip()).first()
    return token is not None and not token.is_expired()


def _challenge(status, www_authenticate):
    response = HttpResponse(status=status)
    response["WWW-Authenticate"] = www_authenticate
    return response


def counts(request):
    return JsonResponse({"requests": counters.snapshot()})
