"""A response for bodies we encoded ourselves (run created, run read).

werkzeug's `get_wsgi_headers` copies every response's headers and runs `Location`
through IRI-to-URI conversion; our `Location` is an ASCII path and the body is bytes
with its `Content-Length` already set, so the copy and the conversion are skipped.
"""

from __future__ import annotations

from flask import Response


class JSONBytesResponse(Response):
    default_mimetype = "application/json"

    def get_wsgi_headers(self, environ):  # noqa: ARG002 - werkzeug's signature
        return self.headers
