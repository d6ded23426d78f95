"""The baseline for the HTTP runs: a Flask endpoint returning a constant body, served by
gunicorn with the same settings as `catalog-server run` (sync workers, access log)."""

from flask import Flask, Response

app = Flask(__name__)
BODY = b'{"status": "ok"}\n'


@app.get("/")
def constant():
    return Response(BODY, content_type="application/json")
