"""Who may do what to which object in which state: one table that every use case asks and the
tests read. Pure: the use case gathers the facts (whose finding, whose road, the month's and
the road's state, whether a reason was given) and asks `decide`, which refuses with a message
the person can act on."""

from __future__ import annotations

from dataclasses import dataclass

from ..domain.errors import Conflict, Forbidden, GisgridError

ROLES = ("admin", "planner", "inspector", "reviewer", "town", "operator")   # operator: the command line


@dataclass(frozen=True)
class Actor:
    """Who acts: an account of the web app, or the operator at the command line."""

    id: int | None
    name: str
    role: str
    towns: frozenset[str] = frozenset()   # the towns an inspector or a town office works for

    @classmethod
    def of(cls, account: dict) -> Actor:
        return cls(account["id"], account["name"], account["role"], frozenset(account.get("towns", ())))


OPERATOR = Actor(None, "cli", "operator")
# someone not logged in: on a new installation, the first-run page sets the first admin
ANONYMOUS = Actor(None, "-", "anonymous")

DRAFT, PUBLISHED = "draft", "published"
OPEN, SUBMITTED = "open", "submitted"       # a sampled road's inspection


@dataclass(frozen=True)
class Facts:
    """What `decide` needs to know of the object: `owner` whether the actor is the finding's
    inspector or the road's assignee (None where ownership does not apply); `road` the road's
    inspection state; `month` the month's publishing state; `reason` whether one was given."""

    owner: bool | None = None
    month: str = DRAFT
    road: str = OPEN
    reason: bool = False
    month_label: str = ""
    road_label: str = ""
    admin_exists: bool = False   # an active admin account exists (the first-run page then closes)
    closed_on: str = ""          # the finding is observed after the month's inspection window closed on this date


@dataclass(frozen=True)
class Rule:
    roles: frozenset[str]
    own: bool = False            # an inspector must own the object (the office acts for anyone)
    month: str | None = DRAFT    # the state the month must be in; None: months do not matter
    submitted: str = "any"       # a submitted road: "refuse", "reason" (allowed with one) or "any"
    reason: bool = False         # the action always needs a reason
    first_run: bool = False      # only while no active admin exists


INSPECTING = frozenset({"inspector", "admin"})
OFFICE = frozenset({"admin", "operator"})
PLANNING = frozenset({"planner", "admin", "operator"})
REVIEWING = frozenset({"reviewer", "admin", "operator"})

READING = frozenset({"inspector", "planner", "reviewer", "admin", "operator"})
TOWN_OFFICE = frozenset({"town", "admin", "operator"})

RULES: dict[str, Rule] = {
    # reading: an inspector sees the roads assigned to them and the photos of their own findings
    "view_road": Rule(READING, own=True, month=None),
    "view_photo": Rule(READING, own=True, month=None),
    "record_finding": Rule(INSPECTING, own=True, submitted="refuse"),
    "edit_finding": Rule(INSPECTING, own=True, submitted="reason"),
    # where a moved finding (or one given another month's time) goes: a road of the actor's
    "move_finding": Rule(INSPECTING, own=True, submitted="reason"),
    "delete_finding": Rule(INSPECTING, own=True, submitted="reason"),
    "add_photo": Rule(INSPECTING, own=True, submitted="refuse"),
    "remove_photo": Rule(INSPECTING, own=True, submitted="refuse"),   # as adding one: the photos are evidence
    "submit_road": Rule(INSPECTING, own=True, submitted="refuse"),
    "import_findings": Rule(OFFICE),
    "draw_sample": Rule(OFFICE),
    "assign_roads": Rule(OFFICE),
    "publish_month": Rule(REVIEWING),
    "reopen_month": Rule(REVIEWING, month=PUBLISHED, reason=True),
    "import_layer": Rule(PLANNING, month=None),
    "edit_boundary": Rule(PLANNING, month=None),        # save, split, merge, retire, restore
    "manage_users": Rule(OFFICE, month=None),
    # a sample that stands is replaced only with a reason (the old draw is kept)
    "redraw_sample": Rule(OFFICE, reason=True),
    # no findings after the window closes, and reopening it: the office's, before publication
    "close_window": Rule(OFFICE),
    "manage_rulebooks": Rule(OFFICE, month=None),
    "view_office": Rule(OFFICE, month=None),   # the office's pages: a month's draws and assignment, the audit log
    "set_first_admin": Rule(frozenset({"anonymous", "operator"}), month=None, first_run=True),
    # rectification: the office issues a notice (its deadline's month not frozen); the town office
    # of the grid receives it and reports items fixed; an inspector re-inspects (the fix date
    # that counts). `month` is the state of the months the change would alter.
    "issue_notice": Rule(OFFICE),
    "receive_notice": Rule(TOWN_OFFICE, own=True, month=None),
    "report_fix": Rule(TOWN_OFFICE, own=True, month=None),
    "check_fix": Rule(INSPECTING | {"operator"}),
    "view_notices": Rule(TOWN_OFFICE | READING, own=True, month=None),
}


def decide(action: str, actor: Actor, facts: Facts = Facts()) -> None:
    """Return if `actor` may do `action` given `facts`; else raise the refusal."""
    rule = RULES[action]
    if actor.role not in rule.roles:
        raise Forbidden("Your role may not do this")
    if rule.own and actor.role == "town" and not facts.owner:
        raise Forbidden("This grid is not one of your town's")
    if rule.own and actor.role == "inspector" and not facts.owner and action != "view_notices":
        if action in ("record_finding", "move_finding") and facts.road_label:
            # a spot is placed on the road whose polygon holds it: where a street runs on into
            # the next grid, that may be the neighbour's road although the tablet was on one's own
            raise Forbidden("This spot lies on road {code}, which is not assigned to you", code=facts.road_label)
        if action in ("record_finding", "move_finding", "submit_road", "view_road"):
            raise Forbidden("This road is not assigned to you")
        if action == "view_photo":
            raise Forbidden("Your role may not do this")
        raise Forbidden("Only the inspector who recorded this finding may change it")
    if rule.month == DRAFT and facts.month == PUBLISHED:
        if action == "publish_month":
            raise Conflict("{month} is already published", month=facts.month_label)
        if action in ("issue_notice", "check_fix"):
            raise Conflict("{month} is published: its rectification figures are frozen; "
                           "re-open the month with a reason to change them", month=facts.month_label)
        raise Conflict("{month} is published: its scores and sample are frozen; "
                       "re-open the month with a reason to change them", month=facts.month_label)
    if rule.month == PUBLISHED and facts.month != PUBLISHED:
        raise Conflict("{month} is not published", month=facts.month_label)
    if facts.closed_on and action in ("record_finding", "move_finding"):
        raise Conflict("The inspection of {month} closed on {date}: findings observed after it are not accepted",
                       month=facts.month_label, date=facts.closed_on)
    if facts.road == SUBMITTED and rule.submitted == "refuse":
        if action == "add_photo":
            raise Conflict("The inspection of road {code} was submitted; no photos can be added",
                           code=facts.road_label)
        if action == "remove_photo":
            raise Conflict("The inspection of road {code} was submitted; its photos can no longer be removed",
                           code=facts.road_label)
        if action == "submit_road":
            raise Conflict("The inspection of road {code} was submitted already", code=facts.road_label)
        raise Conflict("The inspection of road {code} was submitted; no new findings can be added",
                       code=facts.road_label)
    if facts.road == SUBMITTED and rule.submitted == "reason" and not facts.reason:
        raise Conflict("The inspection of road {code} was submitted; give a reason for this change",
                       code=facts.road_label)
    if rule.first_run and facts.admin_exists:
        raise Conflict("An administrator account exists already; log in as an administrator to manage accounts")
    if rule.reason and not facts.reason:
        if action == "redraw_sample":
            raise GisgridError("{month} has a sample already; give a reason for drawing it again "
                               "(the old draw is kept)", month=facts.month_label)
        raise GisgridError("Give a reason for re-opening {month}", month=facts.month_label)


def allowed(action: str, actor: Actor, facts: Facts = Facts()) -> bool:
    try:
        decide(action, actor, facts)
    except GisgridError:
        return False
    return True
