"""WSGI entry point: `gunicorn wsgi:app`, `flask --app wsgi ...`.

A configuration that cannot be served stops here with one line on stderr naming the
setting or file (exit status 4, which also stops gunicorn's master).
"""

from ingress_app.startup import create_app_or_exit

app = create_app_or_exit()
