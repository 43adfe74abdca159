"""The JSON API the pages use (documented by an OpenAPI description)."""

from flask import Blueprint

bp = Blueprint("api", __name__)
