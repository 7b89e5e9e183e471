"""WSGI entry point: `gunicorn wsgi:app`, `flask --app wsgi ...`."""

from ingress_app import create_app

app = create_app()
