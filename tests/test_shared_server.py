"""The OS account names of a class on one server (rl_course/course/shared_server.py); the accounts themselves, the
exchange's rights and the collect that checks owners are exercised on the hub (tests/test_hub.py)."""

import re

import pytest

from rl_course.course.shared_server import NAME_MAX, account_name

VALID = re.compile(r"^[a-z][-a-z0-9_]*$")  # what useradd accepts without --badname, and the shell shows plainly


@pytest.mark.parametrize("hub_user, expected", [("alice", "jupyter-alice"), ("bob_2", "jupyter-bob_2"),
                                                ("instructor", "jupyter-instructor")])
def test_a_plain_name_keeps_its_name(hub_user, expected):
    assert account_name(hub_user) == expected


@pytest.mark.parametrize("hub_user", ["Alice", "alice@uni.example", "a6d5c443-1f51-4783-ba1a-7686ffe3b54a",
                                      "x" * 40, "Ünïcode", "alice alice", "../root"])
def test_any_other_name_gets_a_valid_account_of_its_own(hub_user):
    name = account_name(hub_user)
    assert VALID.match(name) and len(name) <= NAME_MAX, name
    assert name != account_name(hub_user.lower()) or hub_user == hub_user.lower()  # "Alice" is not "alice"
    assert account_name(hub_user) == name  # the same each time: the collect compares it with a folder's owner


def test_names_that_read_alike_get_different_accounts():
    names = ["Alice", "alice", "ALICE", "alice!", "alice?", "x" * 40, "x" * 41, "a6d5c443-1f51-4783-ba1a-7686ffe3b54a",
             "a6d5c443-1f51-4783-ba1a-7686ffe3b54b"]
    assert len({account_name(n) for n in names}) == len(names)
