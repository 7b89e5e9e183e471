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
from .openapi import IngressMarshmallowPlugin
from .schemas import CORRELATION_ID, ErrorDetailSchema, ErrorSchema


class IngressParser(FlaskParser):
    """webargs parser: validation failures are 400, and JSON comes from `json_body()`."""

    DEFAULT_VALIDATION_STATUS = 400

    def _raw_load_json(self, req):
        value = json_body(required=False)
        return core.missing if value is None else value


class Blueprint(_Blueprint):
    ARGUMENTS_PARSER = IngressParser()

    def response(self, status_code, schema=None, *, headers=None, **kwargs):
        """`Blueprint.response`, documenting the `X-Correlation-ID` every answer carries."""
        headers = {**CORRELATION_ID, **(headers or {})}
        return super().response(status_code, schema, headers=headers, **kwargs)

    def alt_response(self, status_code, *args, headers=None, **kwargs):
        """Document an alternative response without wrapping the view.

        flask-smorest's wrapper only calls through (via `current_app.ensure_sync`), and
        views document up to ten error statuses: ten wrapper layers on every request.
        Here the documentation is put on the view itself and the view is returned.
        """
        headers = {**CORRELATION_ID, **(headers or {})}
        document = super().alt_response(status_code, *args, headers=headers, **kwargs)
        return _documentation_only(document)

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

    def __init__(self, app=None, *, spec_kwargs=None, **kwargs):
        spec_kwargs = {"marshmallow_plugin": IngressMarshmallowPlugin(), **(spec_kwargs or {})}
        super().__init__(app, spec_kwargs=spec_kwargs, **kwargs)

    def init_app(self, app, *args, **kwargs):
        super().init_app(app, *args, **kwargs)
        from .webhooks.schemas import WEBHOOK_PAYLOAD, WEBHOOK_SECURITY_SCHEMES

        # referenced by hand: from `ErrorSchema.detail` (a string, this object or null)
        # and from the webhook intake, whose body and credentials no marshmallow
        # schema describes
        self.spec.components.schema("ErrorDetail", schema=ErrorDetailSchema)
        self.spec.components.schema("WebhookPayload", WEBHOOK_PAYLOAD)
        for name, scheme in WEBHOOK_SECURITY_SCHEMES.items():
            self.spec.components.security_scheme(name, scheme)

    def handle_http_exception(self, error):
        return handle_http_exception(error)
