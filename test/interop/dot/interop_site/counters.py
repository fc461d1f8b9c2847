"""Counts requests by method, path and response status, in this process."""
import threading
from collections import Counter

_lock = threading.Lock()
_counts = Counter()


def snapshot():
    """The counts so far, keyed "<METHOD> <path> <status>"."""
    with _lock:
        return dict(_counts)


class CountingMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if not request.path.startswith("/interop/"):
            with _lock:
                _counts[f"{request.method} {request.path} {response.status_code}"] += 1
        return response
