"""What the student edition holds in place of an answer: the student's own function, or a clear error.

The student edition of the library (``rl-course student-edition``) keeps the signature, the
docstring and the ``@reference`` mark of every graded function of an open or future assignment,
and replaces its body by a call to ``own_answer``. Where the library needs such a function itself
(the trainer computes GAE, the losses, the Gaussian log-density…), it then uses the function of the
same name that the student wrote and ran in the notebook, found in the notebook's namespace
(``__main__``), so a demo or a training run of an open assignment runs on the student's own work.
Where the notebook has none, a function that a later assignment teaches but an earlier notebook
needs (the orthogonal initialization and the gradient clipping of 05, used by the agents of 04) is
computed by the library it comes from (``STAND_INS``: torch's own); any other
call fails with a message saying so::

    rl_course.advantages.gae is the answer of assignment 03_gae and is not in the student edition:
    write your own gae in the notebook and run its cell (the library calls it from there)

The instructor's edition never calls anything here.
"""

from __future__ import annotations

import functools
import importlib
import inspect
import sys

from rl_course.reference import is_reference


class AnswerWithheld(NotImplementedError):
    """A graded function of an open or future assignment was called in the student edition, and the notebook has none."""


def _torch_orthogonal(n_rows: int, n_cols: int, gain: float = 1.0, generator=None):
    """torch's orthogonal initialization of an (n_rows, n_cols) matrix, scaled by ``gain``."""
    import torch

    return torch.nn.init.orthogonal_(torch.empty(n_rows, n_cols), gain=gain, generator=generator)


def _torch_clip_grad_norm(parameters, max_norm: float) -> float:
    """torch's global gradient clipping, in place; returns the norm before clipping."""
    import torch

    return float(torch.nn.utils.clip_grad_norm_(parameters, max_norm))


STAND_INS = {"rl_course.ppo.networks.orthogonal_matrix": _torch_orthogonal,
             "rl_course.ppo.optimization.clip_grad_norm_": _torch_clip_grad_norm}

_running: set[str] = set()  # the withheld answers whose stand-in is running: one that calls itself back is no answer


def is_withheld(function) -> bool:
    """Whether this edition of the library withholds ``function``: True in the student edition for a graded
    function of an open or future assignment (its body is a call to ``own_answer``), False in the instructor's.

    A notebook asks it where it would use a library function that is an answer of its own assignment (the
    vectorized TD(λ) sweep of 01 and 02), and otherwise uses the student's own function.
    """
    code = getattr(inspect.unwrap(function), "__code__", None)
    return code is not None and "own_answer" in code.co_names


def own_answer(qualname: str, assignment: str, name: str | None, arguments: dict, instead: str | None = None):
    """Call the notebook's own ``name`` in place of the withheld ``qualname``, with the ``arguments`` the
    library's function was given (its ``locals()``): required ones by position, the others by name and
    only where they differ from the default, so that the student's function needs no parameter it does
    not use (``collect_rollout(…, to_env=None)``).

    Without one, a function of ``STAND_INS`` is computed by its stand-in. Raises ``AnswerWithheld`` when
    the notebook defines no ``name``, when its ``name`` is the library's stand-in itself (imported from
    ``rl_course``), or when it calls back into the stand-in; ``instead`` says what to do where there is no ``name``.
    """
    args, kwargs = _passed(qualname, arguments)
    notebook = sys.modules.get("__main__")
    own = getattr(notebook, name, None) if name else None
    if qualname in _running:
        raise AnswerWithheld(f"your {name} calls {qualname}, the answer of assignment {assignment}, which is not in the "
                             f"student edition: write the computation yourself")
    if (not callable(own) or is_reference(own)) and qualname in STAND_INS:
        return STAND_INS[qualname](*args, **kwargs)
    if not callable(own) or is_reference(own):
        how = (f"write your own {name} in the notebook and run its cell (the library calls it from there)" if name
               else instead or "it is taught in that assignment")
        raise AnswerWithheld(f"{qualname} is the answer of assignment {assignment} and is not in the student edition: {how}")
    _running.add(qualname)
    try:
        return own(*args, **kwargs)
    finally:
        _running.discard(qualname)


def _passed(qualname: str, arguments: dict) -> tuple[tuple, dict]:
    """(args, kwargs) that pass on what the withheld function ``qualname`` was given."""
    args, kwargs = [], {}
    for parameter in _parameters(qualname):
        value = arguments[parameter.name]
        if parameter.kind is parameter.VAR_POSITIONAL:
            args.extend(value)
        elif parameter.kind is parameter.VAR_KEYWORD:
            kwargs.update(value)
        elif parameter.default is parameter.empty and parameter.kind is not parameter.KEYWORD_ONLY:
            args.append(value)
        elif parameter.default is parameter.empty or value is not parameter.default:
            kwargs[parameter.name] = value
    return tuple(args), kwargs


@functools.cache
def _parameters(qualname: str) -> tuple[inspect.Parameter, ...]:
    """The parameters of the library's function ``qualname`` (``rl_course.ppo.losses.clipped_surrogate``)."""
    parts = qualname.split(".")
    for cut in range(len(parts) - 1, 0, -1):
        try:
            owner = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for part in parts[cut:]:
            owner = getattr(owner, part)
        return tuple(inspect.signature(inspect.unwrap(owner)).parameters.values())
    raise ValueError(f"{qualname}: no such function")
