"""flask-smorest's `Api` and `Blueprint`, fitted to Ingress: the `{error, detail}`
envelope, JSON read through `json_body()`, and documenting decorators that add no
wrapper to the view.
"""

from __future__ import annotations

from flask_smorest import Api as _Api
from flask_smorest import Blueprint as _Blueprint
from webargs import core
from webargs.flaskparser import FlaskParser

from .body import json_body
from .errors import handle_http_exception
from .schemas import ErrorSchema


class IngressParser(FlaskParser):
    """webargs parser: validation failures are 400, and JSON comes from `json_body()`."""

    DEFAULT_VALIDATION_STATUS = 400

    def _raw_load_json(self, req):
        value = json_body(required=False)
        return core.missing if value is None else value


class Blueprint(_Blueprint):
    ARGUMENTS_PARSER = IngressParser()

    def alt_response(self, status_code, *args, **kwargs):
        """Document an alternative response without wrapping the view.

        flask-smorest's wrapper only calls through (via `current_app.ensure_sync`), and
        views document up to ten error statuses: ten wrapper layers on every request.
        Here the documentation is put on the view itself and the view is returned.
        """
        return _documentation_only(super().alt_response(status_code, *args, **kwargs))

    @staticmethod
    def doc(**kwargs):
        """`Blueprint.doc` without the call-through wrapper (see `alt_response`)."""
        return _documentation_only(_Blueprint.doc(**kwargs))


def _documentation_only(document):
    """Turn a flask-smorest documenting decorator into one that only documents: the
    view gets the decorator's `_apidoc` (a fresh copy, as flask-smorest makes one) and is
    returned itself instead of the wrapper."""

    def decorator(func):
        func._apidoc = document(func)._apidoc
        return func

    return decorator


class Api(_Api):
    """flask-smorest Api documenting and rendering the `{error, detail}` envelope."""

    ERROR_SCHEMA = ErrorSchema

    def handle_http_exception(self, error):
        return handle_http_exception(error)
