"""
Serves the project with the standard library's single-threaded WSGI server on 127.0.0.1 and the
port given (0: the OS picks one). Prints "listening on <port>" once the socket is bound, and exits
when its stdin closes, so that it never outlives the test process that started it.
"""
import os
import sys
import threading
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from django.core.management.base import BaseCommand
from django.core.wsgi import get_wsgi_application


class QuietHandler(WSGIRequestHandler):
    def log_message(self, format, *args):
        pass


def exit_when_stdin_closes():
    try:
        while sys.stdin.buffer.read(4096):
            pass
    finally:
        os._exit(0)


class Command(BaseCommand):
    help = "Serves the project on 127.0.0.1 with wsgiref until stdin closes."

    def add_arguments(self, parser):
        parser.add_argument("--port", type=int, default=0)

    def handle(self, *args, **options):
        application = get_wsgi_application()
        server = make_server("127.0.0.1", options["port"], application, WSGIServer, QuietHandler)
        threading.Thread(target=exit_when_stdin_closes, daemon=True).start()
        self.stdout.write(f"listening on {server.server_address[1]}")
        self.stdout.flush()
        server.serve_forever()
