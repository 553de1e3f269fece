"""How a failed test shows in a notebook: its message first, wrapped, then the test cell's line.

A test cell fails with an ``AssertionError`` whose message says what is wrong and where. IPython shows the
message last, after the frames, and nbgrader's Validate shows the top of a long traceback, in lines it cuts at
90 characters (the command) or at the edge of its dialog (JupyterLab). So in a notebook an ``AssertionError``
is shown message first, the message wrapped to ``WIDTH`` columns, then the frames:

- a check's failure (``rl_course.checks``) without the frames of the checks, which set ``__tracebackhide__``
  (``without_hidden_frames``, its ``_render_traceback_``);
- any other ``AssertionError`` of a kernel that imported the checks (a test cell's own ``assert``), through
  IPython's ``set_custom_exc`` (``show_assertions_message_first``).

Only the rendering changes: the error's type and message (what grading reads) stay as they are.
"""

from __future__ import annotations

import re
import textwrap
import types

WIDTH = 83  # nbgrader's Validate keeps lines of up to 87 characters whole (its width 90 less "..."), 4 of them its indent
_COLOURED_NAME = re.compile(r"^((?:\x1b\[[0-9;]*m)*\w+(?:\x1b\[[0-9;]*m)*: )")


def message_first(lines: list[str]) -> list[str]:
    """IPython's rendered traceback ``lines`` (the message last) as: the message wrapped to ``WIDTH`` columns, then the frames."""
    if not lines:
        return lines
    *frames, message = lines
    return [*wrap(message), *frames]


def wrap(message: str) -> list[str]:
    """``ErrorName: message`` as lines of at most ``WIDTH`` visible characters, broken between words (the name keeps
    its colour; each line of a message that has several is wrapped on its own)."""
    named = _COLOURED_NAME.match(message)
    prefix = named.group(1) if named else ""
    visible = len(re.sub(r"\x1b\[[0-9;]*m", "", prefix))
    lines = []
    for k, paragraph in enumerate(message[len(prefix):].split("\n")):
        indent = " " * visible if k == 0 else ""
        wrapped = textwrap.wrap(indent + paragraph, WIDTH, break_long_words=False, break_on_hyphens=False) or [""]
        lines += wrapped
    lines[0] = prefix + lines[0][visible:]
    return lines


def without_hidden_frames(error: BaseException) -> list[str]:
    """IPython's rendering of ``error`` with the frames that set ``__tracebackhide__`` (the checks) left out, its message first.

    IPython itself always shows the innermost frame, hidden or not; here the frame that raised is a check's, so
    it goes too. IPython's own bottom frame (``"__ipython_bottom__"``) stays: the rendering's offset skips it.
    """
    from IPython import get_ipython

    shell = get_ipython()
    kept = []
    tb = error.__traceback__
    while tb is not None:
        hide = tb.tb_frame.f_locals.get("__tracebackhide__", False)
        if not hide or hide == "__ipython_bottom__":
            kept.append(tb)
        tb = tb.tb_next
    chain = None
    for tb in reversed(kept):
        chain = types.TracebackType(chain, tb.tb_frame, tb.tb_lasti, tb.tb_lineno)
    try:
        lines = shell.InteractiveTB.structured_traceback(type(error), error, chain)
    except Exception:  # never lose the message to a rendering problem
        lines = shell.InteractiveTB.structured_traceback(type(error), error, error.__traceback__)
    return message_first(lines)


def show_assertions_message_first(shell) -> None:
    """Have IPython ``shell`` show every ``AssertionError`` message first (a check's without the checks' frames)."""

    def show(shell, etype, value, tb, tb_offset=None):
        if not callable(getattr(value, "_render_traceback_", None)):
            lines = shell.InteractiveTB.structured_traceback(etype, value, tb, tb_offset=tb_offset)
            value._render_traceback_ = lambda: message_first(lines)
        shell.showtraceback((etype, value, tb), tb_offset=tb_offset)  # IPython shows what _render_traceback_ gives

    shell.set_custom_exc((AssertionError,), show)


def failure(message: str) -> AssertionError:
    """An ``AssertionError`` that IPython shows without the frames that set ``__tracebackhide__``."""
    error = AssertionError(message)
    error._render_traceback_ = lambda: without_hidden_frames(error)
    return error
