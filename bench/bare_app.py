"""The benchmark's baseline: a bare Flask endpoint returning a constant JSON body.

Served by the same gunicorn.conf.py (same worker class, workers, threads) as the real
app, so `bench/run_api.py` can express the API's throughput as a ratio of it:
`gunicorn -c gunicorn.conf.py bench.bare_app:app`.
"""

from flask import Flask

app = Flask(__name__)
app.json.compact = True
app.json.sort_keys = False

_BODY = {"status": "ok"}


@app.get("/bare")
def bare():
    return _BODY
