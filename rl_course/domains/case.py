"""What a case of a differential hidden test is (``Case``), the forms an input comes in (``FORMS``, ``given_as``) and the
tolerances of a comparison (``EXACT``, ``SINGLE``)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

FORMS = ("float64", "float32", "int", "list", "list of ints")
EXACT = (1e-8, 1e-6)  # (atol, rtol) of a comparison in double precision
SINGLE = (1e-5, 1e-5)  # where an input is float32: an answer may keep single precision


@dataclass(frozen=True)
class Case:
    """One call: ``fn(*args, **kwargs)``, described in words by ``label``, compared within ``tolerance`` (atol, rtol)."""

    args: tuple
    kwargs: dict = field(default_factory=dict)
    label: str = ""
    tolerance: tuple = EXACT


def given_as(values, form: str):
    """``values`` (floats) in the ``form`` of ``FORMS``: an array of that dtype or a (nested) list; the integer forms round."""
    values = np.asarray(values, dtype=float)
    if form in ("int", "list of ints"):
        values = np.round(values).astype(np.int64)
    elif form == "float32":
        values = values.astype(np.float32)
    return values.tolist() if form.startswith("list") else values


def tolerance_for(*forms: str) -> tuple:
    """``SINGLE`` where any of ``forms`` is float32, else ``EXACT``."""
    return SINGLE if "float32" in forms else EXACT


def unit_number(rng, ends=(0.0, 1.0)) -> float:
    """A number of [0, 1]: one of its ends a third of the time each way, else drawn between them."""
    pick = rng.integers(4)
    return float(ends[pick]) if pick < 2 else float(rng.uniform(0.05, 0.99))


def tensor(values, dtype: str = "float64", grad: bool = False):
    """``values`` as a torch tensor of ``dtype``, requiring a gradient when ``grad`` (torch is imported on first use)."""
    import torch

    tensor = torch.as_tensor(np.asarray(values), dtype=getattr(torch, dtype))
    return tensor.requires_grad_() if grad else tensor
