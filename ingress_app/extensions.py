"""Unbound extension singletons; `create_app` binds them with `init_app`.

Nothing here imports Ingress code, so any module may import these without cycles.
The flask-smorest subclasses (`Api`, `Blueprint`) live in `ingress_app.smorest`.
"""

from __future__ import annotations

from flask_caching import Cache
from flask_jwt_extended import JWTManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy.orm import DeclarativeBase


class Base(DeclarativeBase):
    pass


db = SQLAlchemy(model_class=Base)
migrate = Migrate()
cache = Cache()
jwt = JWTManager()
