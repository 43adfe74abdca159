"""The inspector's pages: my roads this month, a road's map, pinning findings."""

from flask import Blueprint

bp = Blueprint("inspect", __name__)
