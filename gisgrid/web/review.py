"""The reviewer's pages: the month on a map, rankings, publishing, the bulletin, exports."""

from flask import Blueprint

bp = Blueprint("review", __name__)
