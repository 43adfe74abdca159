"""The tablet's writes carry a client-made id: the first one claims it inside its transaction;
a write sent again with it (a lost answer, a retry) is answered as the first time and changes
nothing again. Shared by the inspector's findings and the re-inspections."""

from __future__ import annotations

import hashlib
import json

from ..domain.errors import Conflict
from ..storage import Store, inspections
from .policy import Actor


def fingerprint(*asked) -> str:
    """What a write asked, as one hash: a replay must ask the same."""
    return hashlib.sha256(json.dumps(asked, sort_keys=True, default=str).encode()).hexdigest()


def claimed(conn, actor: Actor, client_id: str | None, action: str, target, asked: str) -> bool:
    """Claim a client-made write id for this change (True), or find it claimed (False: a replay,
    answered after the transaction by `replayed`). Without an id every call is a new change."""
    if client_id is None:
        return True
    return inspections.claim_write(conn, {"client_id": client_id, "account_id": actor.id, "action": action,
                                          "target": str(target), "fingerprint": asked})


def replayed(store: Store, actor: Actor, client_id: str, action: str, target, asked: str) -> None:
    """A claimed id is a replay only of the same change by the same account; anything else is a
    client's bug (or a guess at someone's id), refused rather than answered."""
    stored = inspections.client_write(store, client_id)
    if stored is None or (stored["account_id"], stored["action"], stored["target"], stored["fingerprint"]) \
            != (actor.id, action, str(target), asked):
        raise Conflict("This change id is already used by another change")
