"""
Creates the test's OAuth clients: reads a JSON list of {"client_id", "client_secret"} from stdin (so
that secrets never appear in argv), each a confidential application with the client credentials
grant. Replaces applications with the same client_id.
"""
import json
import sys

from django.core.management.base import BaseCommand
from oauth2_provider.models import get_application_model


class Command(BaseCommand):
    help = "Creates confidential client-credentials applications from JSON on stdin."

    def handle(self, *args, **options):
        Application = get_application_model()
        clients = json.load(sys.stdin)
        for client in clients:
            Application.objects.filter(client_id=client["client_id"]).delete()
            # The plain secret is assigned; DOT 2+ hashes it on save, DOT 1.x stores it as is.
            Application.objects.create(
                name=client["client_id"],
                client_id=client["client_id"],
                client_secret=client["client_secret"],
                client_type=Application.CLIENT_CONFIDENTIAL,
                authorization_grant_type=Application.GRANT_CLIENT_CREDENTIALS,
            )
        self.stdout.write(f"created {len(clients)} applications")
