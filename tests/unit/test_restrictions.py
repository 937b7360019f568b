"""Holds and opt-outs by source: each source sets and lifts only its own entries."""

import pytest

from arrears.domain.restrictions import Restrictions, effective


def test_a_platform_file_cannot_lift_what_the_borrower_or_an_operator_set():
    r = Restrictions().with_entry("opt_out", "sms", "borrower", True).with_entry("holds", "dispute", "operator", True)
    r = r.with_source("opt_out", "platform", ["email"]).with_source("holds", "platform", [])
    assert r.names("opt_out") == {"sms", "email"}
    assert r.names("holds") == {"dispute"}
    r = r.with_source("opt_out", "platform", [])  # the platform lifts its own opt-out only
    assert r.names("opt_out") == {"sms"}
    assert r.sources("opt_out", "sms") == {"borrower"}


def test_a_restriction_holds_while_any_source_holds_it():
    r = Restrictions().with_entry("holds", "dispute", "platform", True).with_entry("holds", "dispute", "operator", True)
    assert r.with_source("holds", "platform", []).names("holds") == {"dispute"}
    assert r.with_entry("holds", "dispute", "operator", False).names("holds") == {"dispute"}
    both_lifted = r.with_entry("holds", "dispute", "operator", False).with_source("holds", "platform", [])
    assert both_lifted.names("holds") == frozenset()


def test_round_trip_and_unknown_names():
    r = Restrictions().with_entry("opt_out", "voice", "provider", True)
    assert Restrictions.from_json(r.to_json()) == r
    assert Restrictions.from_json(None) == Restrictions()
    with pytest.raises(ValueError, match="unknown source"):
        r.with_entry("opt_out", "sms", "somebody", True)
    with pytest.raises(ValueError, match="unknown restriction kind"):
        r.names("vetoes")
    assert effective({"sms"}, {"email"}) == {"sms", "email"}
    assert effective(None, ()) == frozenset()
