"""Answers for bodies we encoded ourselves (run created, run read).

`Answer` is what a pipeline function returns (status, headers, JSON bytes): the Flask
view turns it into a `JSONBytesResponse`, the front door sends it as it is.

werkzeug's `get_wsgi_headers` copies every response's headers and runs `Location`
through IRI-to-URI conversion; our `Location` is an ASCII path and the body is bytes
with its `Content-Length` already set, so the copy and the conversion are skipped.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import Response
from werkzeug.http import HTTP_STATUS_CODES


class JSONBytesResponse(Response):
    default_mimetype = "application/json"

    def get_wsgi_headers(self, environ):  # noqa: ARG002 - werkzeug's signature
        return self.headers


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    body: bytes
    headers: tuple[tuple[str, str], ...] = ()

    def response(self) -> JSONBytesResponse:
        return JSONBytesResponse(self.body, self.status, list(self.headers))

    def send(self, start_response) -> list[bytes]:
        """Answer a WSGI request with it (the status line as werkzeug writes it)."""
        start_response(
            f"{self.status} {HTTP_STATUS_CODES[self.status].upper()}",
            [("Content-Type", "application/json"), ("Content-Length", str(len(self.body))),
             *self.headers],
        )
        return [self.body]
