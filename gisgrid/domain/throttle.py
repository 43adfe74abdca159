"""How long a login attempt must wait, from the recent failures: a pure rule (plain times in,
seconds out), so that the limits can be read and tested alone.

The attack it is shaped against is not only guessing but shutting a colleague out: whoever
knows a colleague's user name can fail on purpose. So no failure ever locks an account as a
whole, and every wait ends by itself once the failures stop:
- one account from one address: after `per_account` failures within the window, that address
  waits for that account until the oldest of them leaves the window (at most one window). A
  success from that address starts the count again.
- one account from all addresses together: after `unknown_addresses` failures, every address
  the account never logged in from waits too (so guessing from many machines is slowed as well).
- one address across all accounts: after `per_address` failures, that address waits for every
  account it never logged in to (one machine trying many names).
An address the account logged in from before (its own tablet or desk) is held only by the first
rule, so failures from elsewhere never keep the colleague out; failures from the same address
(the same machine, or one NAT for a whole office) hold it for one window at most after they stop.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True)
class Limits:
    window: timedelta = timedelta(minutes=15)
    per_account: int = 5
    unknown_addresses: int = 20
    per_address: int = 50
    known_for: timedelta = timedelta(days=30)  # an address with a success this recent is the account's own


@dataclass(frozen=True)
class Failures:
    """Times of the failures within the window (any order)."""

    account_here: Sequence[datetime]  # this account from this address, since its last success here
    account: Sequence[datetime]  # this account from every address
    address: Sequence[datetime]  # this address, any account
    known_address: bool  # the account logged in from this address before


def _wait(times: Sequence[datetime], limit: int, window: timedelta, now: datetime) -> float:
    """Seconds until fewer than `limit` of `times` are within the window."""
    recent = sorted((t for t in times if t > now - window), reverse=True)
    if len(recent) < limit:
        return 0.0
    return max(0.0, (recent[limit - 1] + window - now).total_seconds())


def wait_seconds(failures: Failures, limits: Limits, now: datetime) -> int:
    """Whole seconds this attempt must wait; 0: it may go ahead."""
    waits = [_wait(failures.account_here, limits.per_account, limits.window, now)]
    if not failures.known_address:
        waits.append(_wait(failures.account, limits.unknown_addresses, limits.window, now))
        waits.append(_wait(failures.address, limits.per_address, limits.window, now))
    return math.ceil(max(waits))


def minutes(seconds: int) -> int:
    """The wait as people read it: whole minutes, rounded up, at least one."""
    return max(1, math.ceil(seconds / 60))
