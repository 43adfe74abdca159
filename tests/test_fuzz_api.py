"""Schemathesis against our OpenAPI description, through the WSGI app, with an inspector's and
a planner's session: valid and invalid requests for every operation, and not one 500 nor one
answer the description does not give (status, content type, body schema). Bounded in examples
per operation and derandomised, so that a run is reproducible and a failure can be replayed."""

from __future__ import annotations

import io

import pytest
import schemathesis
from flask.testing import FlaskClient
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from PIL import Image
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import (content_type_conformance, response_schema_conformance,
                                               status_code_conformance)

from gisgrid.services import office
from gisgrid.storage import inspections

MONTH = "2026-11"
ON_R11 = (114.035, 33.5951)
EXAMPLES = 6        # per operation and mode of the role's own: about 40 s a role on two busy cores
FOREIGN = 2         # another role's operations only answer 403: the shape of that is checked
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@pytest.fixture
def db_url(tmp_path):
    """SQLite only: the run is about how requests are read, which both databases share."""
    return str(tmp_path / "gisgrid.sqlite")


class ReadingClient(FlaskClient):
    """Reads each answer and closes it: schemathesis leaves streamed files (photos) open."""

    def open(self, *args, **kwargs):
        response = super().open(*args, **kwargs)
        response.get_data()
        response.close()
        return response


@pytest.fixture
def client(app):
    app.test_client_class = ReadingClient
    return app.test_client()


def jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (50, 40), "red").save(out, "JPEG")
    return out.getvalue()


@pytest.fixture
def data(app, district, auth):
    """A drawn sample with two roads assigned to the inspector, and one finding with a photo:
    ids 1 exist, so that generated ids sometimes hit something."""
    office.sample_month(district, MONTH, roads=["R11", "R12", "R21", "R41", "R42"])
    auth.account("wang", "inspector")
    for road in ("R11", "R12"):
        inspections.assign(district, MONTH, road, "wang", "test")
    auth.login("wang", "inspector")
    token = {"X-CSRFToken": auth.csrf("/inspect/")}
    made = auth.client.post("/api/findings", headers=token, json={
        "id": "tablet-0001", "rule": "5.1", "observed_at": "2026-11-25T10:00:00+08:00",
        "lon": ON_R11[0], "lat": ON_R11[1]})
    assert made.status_code == 201
    sent = auth.client.post(f"/api/findings/{made.json['finding']['id']}/photos", headers=token,
                            data={"client_id": "tablet-0001-p0", "photo": (io.BytesIO(jpeg()), "p.jpg")})
    assert sent.status_code == 201
    auth.logout()
    return auth


@pytest.mark.parametrize("role", ["inspector", "planner"])
def test_no_server_error_and_every_answer_as_described(app, client, data, role):
    data.login("wang" if role == "inspector" else "planner1", role)
    token = {"X-CSRFToken": data.csrf("/")}
    with client.get("/api/openapi.json") as response:      # closed: the file is streamed
        schema = schemathesis.openapi.from_dict(response.json)
    schema.app = app                                          # calls go through the WSGI app
    failures, calls = [], []

    for result in schema.get_all_operations():
        operation = result.ok()
        planners = operation.path.startswith("/api/plan/")
        own = planners == (role == "planner") or (role == "planner" and operation.method.upper() == "GET")
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @settings(max_examples=EXAMPLES if own else FOREIGN, derandomize=True, deadline=None, database=None,
                      phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
            @given(case=operation.as_strategy(generation_mode=mode))
            def fuzz(case):
                calls.append(operation.label)
                case.call_and_validate(session=client, headers=token, checks=CHECKS)

            try:
                fuzz()
            except Unsatisfiable:       # nothing to make invalid: no parameters and no body
                assert mode == GenerationMode.NEGATIVE
            except (Exception, FailureGroup) as error:  # keep a failed check and go on, to see them all
                failures.append(f"{operation.label} ({mode}): {type(error).__name__}: {str(error)[:1500]}")

    assert len(set(calls)) >= 25        # every operation was tried
    assert not failures, "\n\n".join(failures)
