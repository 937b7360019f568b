"""The local runner applies an event source mapping's FilterCriteria as Lambda does (the subset the
template uses, and nothing it cannot apply)."""

import json

import pytest

from arrears_local import filters
from arrears_local.stack import load_template
from tests.conftest import load_event


def _insert(**image):
    return {"eventName": "INSERT", "dynamodb": {"NewImage": image}}


def test_the_api_facts_filter_passes_only_inserted_items_with_facts():
    mapping = load_template()["Resources"]["ApiFactsFunction"]["Properties"]["Events"]["IdempotencyStream"]
    patterns = filters.parse(mapping["Properties"]["FilterCriteria"])
    (sample,) = load_event("api_facts_stream.json")["Records"]
    assert filters.passes(patterns, sample)
    assert filters.passes(patterns, _insert(key={"S": "webhook#m1"}, facts={"S": "{}\n"}))
    assert not filters.passes(patterns, _insert(key={"S": "payment#P1"}))  # a file's payment
    assert not filters.passes(patterns, {**sample, "eventName": "MODIFY"})
    assert not filters.passes(patterns, {"eventName": "REMOVE", "dynamodb": {"OldImage": {"facts": {"S": "x"}}}})


def test_operators_and_alternatives():
    p = filters.parse(
        {
            "Filters": [
                {"Pattern": json.dumps({"a": [1, 2], "b": {"c": [{"prefix": "x"}]}})},
                {"Pattern": json.dumps({"d": [{"anything-but": ["no"]}], "e": [{"exists": False}]})},
            ]
        }
    )
    assert filters.passes(p, {"a": 2, "b": {"c": "xyz"}})
    assert not filters.passes(p, {"a": 3, "b": {"c": "xyz"}})
    assert not filters.passes(p, {"a": 1, "b": {"c": "yz"}})
    assert filters.passes(p, {"d": "yes"}) and not filters.passes(p, {"d": "no"})
    assert not filters.passes(p, {"d": "yes", "e": 0})
    assert not filters.passes(p, {})  # d missing: anything-but needs a value
    assert filters.passes([], {"anything": 1})  # no filters: everything passes


def test_an_operator_the_runner_cannot_apply_is_refused_by_name():
    with pytest.raises(ValueError, match="numeric"):
        filters.parse({"Filters": [{"Pattern": json.dumps({"a": [{"numeric": [">", 1]}]})}]})
