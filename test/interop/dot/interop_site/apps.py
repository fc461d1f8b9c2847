from django.apps import AppConfig


class InteropSiteConfig(AppConfig):
    name = "interop_site"
