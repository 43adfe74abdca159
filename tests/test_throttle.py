"""The login throttle's rule alone: plain times in, seconds to wait out."""

from datetime import datetime, timedelta

from gisgrid.domain.throttle import Failures, Limits, minutes, wait_seconds

NOW = datetime(2026, 11, 25, 2, 0)
LIMITS = Limits()


def ago(*mins):
    return [NOW - timedelta(minutes=m) for m in mins]


def failures(here=(), account=(), address=(), known=False):
    return Failures(account_here=here, account=account, address=address, known_address=known)


def test_below_every_limit_nobody_waits():
    assert wait_seconds(failures(ago(1, 2, 3, 4), ago(*range(19)), ago(*range(49))), LIMITS, NOW) == 0


def test_the_fifth_failure_from_here_holds_the_account_here_until_the_oldest_leaves_the_window():
    assert wait_seconds(failures(ago(1, 2, 3, 4, 10)), LIMITS, NOW) == 5 * 60
    # only the latest five count: an older sixth does not lengthen the wait
    assert wait_seconds(failures(ago(1, 2, 3, 4, 10, 14)), LIMITS, NOW) == 5 * 60
    assert wait_seconds(failures(ago(1, 2, 3, 4, 16)), LIMITS, NOW) == 0  # out of the window


def test_failures_elsewhere_hold_unknown_addresses_but_not_the_accounts_own():
    many = ago(*[m / 2 for m in range(20)])
    assert wait_seconds(failures(account=many), LIMITS, NOW) > 0
    assert wait_seconds(failures(account=many, known=True), LIMITS, NOW) == 0
    spray = ago(*[m / 4 for m in range(50)])
    assert wait_seconds(failures(address=spray), LIMITS, NOW) > 0
    assert wait_seconds(failures(address=spray, known=True), LIMITS, NOW) == 0


def test_no_wait_is_longer_than_the_window():
    worst = failures(ago(*[0] * 10), ago(*[0] * 40), ago(*[0] * 80))
    assert wait_seconds(worst, LIMITS, NOW) == 15 * 60


def test_the_wait_is_told_in_whole_minutes_rounded_up():
    assert [minutes(s) for s in (1, 60, 61, 900)] == [1, 1, 2, 15]
