"""The mark on the library's reference implementations of the functions students write.

A reference is decorated with ``@reference``; the notebooks' checks (``assert_own_work``) give no
credit to an answer that merely calls one, and the student edition withholds every marked function
of an assignment that is still open. This module holds only the mark, so that the library can
carry it without importing the checks (which change how a Jupyter kernel shows warnings).
"""

from __future__ import annotations

from collections.abc import Callable

_REFERENCE_MARK = "__rl_course_reference__"


def reference(fn: Callable) -> Callable:
    """Mark ``fn`` as the library's reference for a function students write themselves."""
    setattr(fn, _REFERENCE_MARK, True)
    return fn


def is_reference(obj) -> bool:
    """Whether ``obj`` is a function marked with ``@reference``."""
    return callable(obj) and getattr(obj, _REFERENCE_MARK, False) is True
