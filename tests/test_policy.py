"""The policy as a table: every use case × role × ownership × state, with what it must answer
(ok, 403 refused for the role or ownership, 409 refused for the state, 400 a reason missing).
The table is written out here, not derived from the policy, so a change to either shows."""

import pytest

from gisgrid.domain.errors import Conflict, Forbidden, GisgridError
from gisgrid.services import policy
from gisgrid.services.policy import PUBLISHED, SUBMITTED, Actor, Facts

ROLES = ("admin", "planner", "inspector", "reviewer", "town", "operator")
MINE, THEIRS = Facts(owner=True), Facts(owner=False)

# by role, on the actor's own object in a draft month, road open, no reason given
BY_ROLE = {
    #                    admin planner inspector reviewer town operator
    "view_road":        ("ok", "ok", "ok", "ok", "403", "ok"),
    "view_photo":       ("ok", "ok", "ok", "ok", "403", "ok"),
    "record_finding":   ("ok", "403", "ok", "403", "403", "403"),
    "edit_finding":     ("ok", "403", "ok", "403", "403", "403"),
    "move_finding":     ("ok", "403", "ok", "403", "403", "403"),
    "delete_finding":   ("ok", "403", "ok", "403", "403", "403"),
    "add_photo":        ("ok", "403", "ok", "403", "403", "403"),
    "remove_photo":     ("ok", "403", "ok", "403", "403", "403"),
    "submit_road":      ("ok", "403", "ok", "403", "403", "403"),
    "import_findings":  ("ok", "403", "403", "403", "403", "ok"),
    "draw_sample":      ("ok", "403", "403", "403", "403", "ok"),
    "assign_roads":     ("ok", "403", "403", "403", "403", "ok"),
    "publish_month":    ("ok", "403", "403", "ok", "403", "ok"),
    "reopen_month":     ("409", "403", "403", "409", "403", "409"),   # a draft month has nothing to re-open
    "import_layer":     ("ok", "ok", "403", "403", "403", "ok"),
    "edit_boundary":    ("ok", "ok", "403", "403", "403", "ok"),
    "manage_users":     ("ok", "403", "403", "403", "403", "ok"),
    "redraw_sample":    ("400", "403", "403", "403", "403", "400"),  # a redraw always needs a reason
    "close_window":     ("ok", "403", "403", "403", "403", "ok"),
    "manage_rulebooks": ("ok", "403", "403", "403", "403", "ok"),
    "view_office":      ("ok", "403", "403", "403", "403", "ok"),
    "set_first_admin":  ("403", "403", "403", "403", "403", "ok"),   # and anyone not logged in, below
    "issue_notice":     ("ok", "403", "403", "403", "403", "ok"),
    "receive_notice":   ("ok", "403", "403", "403", "ok", "ok"),
    "report_fix":       ("ok", "403", "403", "403", "ok", "ok"),
    "check_fix":        ("ok", "403", "ok", "403", "403", "ok"),
    "view_notices":     ("ok", "ok", "ok", "ok", "ok", "ok"),
}

# the inspector's own work, by state: (facts, outcome per use case)
STATES = [
    (THEIRS, {"view_road": "403", "view_photo": "403", "record_finding": "403", "edit_finding": "403", "move_finding": "403", "delete_finding": "403",
              "add_photo": "403", "remove_photo": "403", "submit_road": "403"}),
    (Facts(owner=True, month=PUBLISHED), {"record_finding": "409", "edit_finding": "409", "move_finding": "409",
                                          "delete_finding": "409", "add_photo": "409", "remove_photo": "409", "submit_road": "409"}),
    (Facts(owner=True, road=SUBMITTED), {"record_finding": "409", "edit_finding": "409", "move_finding": "409",
                                         "delete_finding": "409", "add_photo": "409", "remove_photo": "409", "submit_road": "409"}),
    (Facts(owner=True, road=SUBMITTED, reason=True), {"record_finding": "409", "edit_finding": "ok",
                                                      "move_finding": "ok", "delete_finding": "ok",
                                                      "add_photo": "409", "remove_photo": "409", "submit_road": "409"}),
]
# the office's and the reviewer's, by the month's state (any role allowed to act)
MONTH_STATES = [
    (Facts(month=PUBLISHED), {"import_findings": "409", "draw_sample": "409", "assign_roads": "409",
                              "publish_month": "409", "reopen_month": "400", "import_layer": "ok",
                              "edit_boundary": "ok", "manage_users": "ok"}),
    (Facts(month=PUBLISHED, reason=True), {"reopen_month": "ok", "redraw_sample": "409"}),
    (Facts(month=PUBLISHED), {"redraw_sample": "409", "close_window": "409"}),
    (Facts(reason=True), {"redraw_sample": "ok"}),
    (Facts(month=PUBLISHED), {"issue_notice": "409", "check_fix": "409", "report_fix": "ok"}),
]


def test_a_town_office_acts_on_its_own_towns_notices_only():
    town = Actor(4, "shabei", "town", frozenset({"沙北街道"}))
    assert {a: outcome(a, town, THEIRS) for a in ("receive_notice", "report_fix", "view_notices")} == \
        {"receive_notice": "403", "report_fix": "403", "view_notices": "403"}
    # the office and inspectors read every notice (an inspector re-inspects anyone's)
    assert outcome("view_notices", Actor(1, "wang", "inspector"), THEIRS) == "ok"


@pytest.mark.parametrize("admin_exists, expected", [(False, "ok"), (True, "409")])
def test_the_first_run_page_sets_an_admin_only_while_none_exists(admin_exists, expected):
    assert outcome("set_first_admin", policy.ANONYMOUS, Facts(admin_exists=admin_exists)) == expected
    assert outcome("manage_users", policy.ANONYMOUS, Facts()) == "403"


def outcome(action: str, actor: Actor, facts: Facts) -> str:
    try:
        policy.decide(action, actor, facts)
    except Forbidden:
        return "403"
    except Conflict:
        return "409"
    except GisgridError:
        return "400"
    return "ok"


def test_the_table_covers_every_use_case():
    assert set(BY_ROLE) == set(policy.RULES)


@pytest.mark.parametrize("action", sorted(BY_ROLE))
def test_each_role_on_its_own_object(action):
    assert {role: outcome(action, Actor(1, "someone", role), MINE) for role in ROLES} == dict(zip(ROLES, BY_ROLE[action]))


@pytest.mark.parametrize("facts, expected", STATES)
def test_the_inspectors_work_by_ownership_and_state(facts, expected):
    inspector = Actor(1, "wang", "inspector")
    assert {action: outcome(action, inspector, facts) for action in expected} == expected


def test_the_office_acts_on_anyones_finding_but_not_in_a_frozen_month():
    office = Actor(2, "office", "admin")
    assert outcome("edit_finding", office, THEIRS) == "ok"
    assert outcome("edit_finding", office, Facts(owner=False, month=PUBLISHED)) == "409"


@pytest.mark.parametrize("facts, expected", MONTH_STATES)
def test_month_level_use_cases_by_the_months_state(facts, expected):
    for action, wanted in expected.items():
        role = next(r for r, o in zip(ROLES, BY_ROLE[action]) if o != "403")
        assert outcome(action, Actor(3, "x", role), facts) == wanted, action


def test_readme_shows_the_policy_as_it_is():
    from pathlib import Path

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    order = ("admin", "planner", "inspector", "reviewer", "town", "operator")
    for name, rule in policy.RULES.items():
        roles = ", ".join(r for r in order if r in rule.roles)
        month = {"draft": "draft", "published": "published", None: "any"}[rule.month]
        submitted = {"refuse": "refused", "reason": "with a reason", "any": ""}[rule.submitted]
        row = f"| `{name}` | {roles} | {'yes' if rule.own else ''} | {month} | {submitted} |"
        assert row in readme, row


def test_a_closed_window_refuses_new_findings_only():
    inspector = Actor(1, "wang", "inspector")
    closed = Facts(owner=True, closed_on="2026-11-24")
    assert outcome("record_finding", inspector, closed) == "409"
    assert {a: outcome(a, inspector, closed) for a in ("edit_finding", "delete_finding", "submit_road")} == \
        {"edit_finding": "ok", "delete_finding": "ok", "submit_road": "ok"}
