"""The planner's pages: drawing, importing, validating and versioning boundaries."""

from flask import Blueprint

bp = Blueprint("plan", __name__)
