"""Plain data across the grading boundary: what the grader sends a student's kernel, and what comes back.

Hidden tests run in the grader's own process; the student's functions run in the kernel. Between the two
travel only values this module encodes as JSON, and decoding builds only these values, never a type the
sender names freely and never through pickle:

=====================================  ==============================================================
value                                  JSON
=====================================  ==============================================================
None, bool, int, str                   itself
float                                  itself; ``{"float": "nan" | "inf" | "-inf"}`` where JSON has none
list                                   a list
tuple                                  ``{"tuple": [...]}``
dict (keys str, int or float)          ``{"dict": [[key, value], ...]}``
numpy array of a number or bool dtype  ``{"array": base64 of its bytes, "dtype": "<f8", "shape": [...]}``
numpy scalar                           the same with ``"scalar": true``
torch tensor                           ``{"tensor": <array>, "requires_grad": bool, "grad": <array> | None,
                                       "parameter": bool}``
torch.Generator                        ``{"torch_generator": <array of its state>}``
numpy Generator (PCG64)                ``{"numpy_generator": {"state": int, "inc": int}, "has_uint32": int, "uinteger": int}``
an ``Iterator`` (a generator sent)     ``{"iterator": [...]}``: its items, iterated once on the other side
a record of the library (``RECORDS``)  ``{"record": "rl_course.episodes.Episode", "fields": {name: value}}``
=====================================  ==============================================================

Anything else raises ``WireError`` naming the value's type and where it sits (``result[2]["V"]``). Decoding
checks every tag, dtype and size (``MAX_BYTES`` in all), so whatever a kernel sends is at worst wrong data.
"""

from __future__ import annotations

import base64
import dataclasses
import importlib
import math
import sys
from collections import abc

import numpy as np

# The library's records that may cross, by dotted name: decoded by calling the class with its fields.
RECORDS = ("rl_course.episodes.Episode", "rl_course.rollouts.Rollout", "rl_course.ppo.config.PPOConfig")
MAX_BYTES = 256 * 2**20  # arrays of one message, together
DTYPE_KINDS = "biufc"  # bool, signed and unsigned integers, floats, complex: no objects, strings or void


class Iterator:
    """An argument that is iterated once (a generator, ``model.parameters()``): its items cross, and the other side
    gets an iterator over them again; the items stay readable (``items``) after it is used up."""

    def __init__(self, items):
        self.items = list(items)
        self._iterator = iter(self.items)

    def __iter__(self):
        return self

    def __next__(self):
        return next(self._iterator)


class WireError(ValueError):
    """A value that cannot cross the boundary, or a message that is not one ``decode`` accepts."""


def encode(value, where: str = "value"):
    """``value`` as JSON-ready data (the table above); ``where`` names it in errors."""
    return _Encoder().encode(value, where)


def decode(data, where: str = "value"):
    """The value ``encode`` made into ``data``, rebuilt from the tags above only."""
    return _Decoder().decode(data, where)


class _Encoder:
    def __init__(self):
        self.bytes = 0

    def encode(self, value, where):
        if value is None or isinstance(value, (bool, str)) or type(value) is int:
            return value
        if type(value) is float:
            return value if math.isfinite(value) else {"float": repr(value)}
        if isinstance(value, np.ndarray) or isinstance(value, np.generic):
            return self.array(value, where)
        torch = sys.modules.get("torch")  # a tensor can only exist where torch was imported
        if torch is not None and isinstance(value, torch.Tensor):
            grad = value.grad if value.is_leaf else None  # autograd fills .grad of leaves only
            return {"tensor": self.array(value.detach().cpu().numpy(), where),
                    "requires_grad": bool(value.requires_grad),
                    "grad": None if grad is None else self.array(grad.detach().cpu().numpy(), f"{where}.grad"),
                    "parameter": isinstance(value, torch.nn.Parameter)}
        if torch is not None and type(value) is torch.Generator:
            return {"torch_generator": self.array(value.get_state().numpy(), where)}
        if type(value) is np.random.Generator and type(value.bit_generator) is np.random.PCG64:
            state = value.bit_generator.state
            return {"numpy_generator": state["state"], "has_uint32": state["has_uint32"], "uinteger": state["uinteger"]}
        if type(value) is Iterator:
            return {"iterator": [self.encode(v, f"{where}[{i}]") for i, v in enumerate(value.items)]}
        if type(value) is list:
            return [self.encode(v, f"{where}[{i}]") for i, v in enumerate(value)]
        if type(value) is tuple:
            return {"tuple": [self.encode(v, f"{where}[{i}]") for i, v in enumerate(value)]}
        if type(value) is dict:
            for key in value:
                if type(key) not in (str, int, float):
                    raise WireError(f"{where}: a dict key must be a str or a number, got {type(key).__name__}")
            return {"dict": [[k, self.encode(v, f"{where}[{k!r}]")] for k, v in value.items()]}
        name = f"{type(value).__module__}.{type(value).__qualname__}"
        if name in RECORDS and dataclasses.is_dataclass(value):
            return {"record": name, "fields": {f.name: self.encode(getattr(value, f.name), f"{where}.{f.name}")
                                               for f in dataclasses.fields(value)}}
        raise WireError(f"{where}: a {type(value).__name__} cannot be sent (numbers, strings, numpy arrays, tensors, "
                        "and lists, tuples and dicts of them can)")

    def array(self, value, where):
        array = np.asarray(value)
        if array.dtype.kind not in DTYPE_KINDS:
            raise WireError(f"{where}: an array of {array.dtype} cannot be sent (numbers and bools can)")
        self.bytes += array.nbytes
        if self.bytes > MAX_BYTES:
            raise WireError(f"{where}: more than {MAX_BYTES // 2**20} MiB of arrays")
        data = np.ascontiguousarray(array).tobytes()
        encoded = {"array": base64.b64encode(data).decode("ascii"), "dtype": array.dtype.str, "shape": list(array.shape)}
        if isinstance(value, np.generic):
            encoded["scalar"] = True
        return encoded


class _Decoder:
    def __init__(self):
        self.bytes = 0

    def decode(self, data, where):
        if data is None or isinstance(data, (bool, str)) or type(data) is int:
            return data
        if type(data) is float:
            return data
        if type(data) is list:
            return [self.decode(v, f"{where}[{i}]") for i, v in enumerate(data)]
        if type(data) is not dict or len(data) == 0:
            raise WireError(f"{where}: not a value of the wire format ({type(data).__name__})")
        if "float" in data:
            text = data["float"]
            if text not in ("nan", "inf", "-inf"):
                raise WireError(f"{where}: not a float: {str(text)[:20]!r}")
            return float(text)
        if "iterator" in data:
            return Iterator(self.decode(v, f"{where}[{i}]") for i, v in enumerate(self.items(data["iterator"], where)))
        if "tuple" in data:
            return tuple(self.decode(v, f"{where}[{i}]") for i, v in enumerate(self.items(data["tuple"], where)))
        if "dict" in data:
            pairs = {}
            for pair in self.items(data["dict"], where):
                if type(pair) is not list or len(pair) != 2 or type(pair[0]) not in (str, int, float):
                    raise WireError(f"{where}: a dict entry must be [key, value] with a str or number key")
                pairs[pair[0]] = self.decode(pair[1], f"{where}[{pair[0]!r}]")
            return pairs
        if "array" in data:
            return self.array(data, where)
        if "tensor" in data:
            return self.tensor(data, where)
        if "record" in data:
            return self.record(data, where)
        if "torch_generator" in data:
            return self.torch_generator(data, where)
        if "numpy_generator" in data:
            return self.numpy_generator(data, where)
        raise WireError(f"{where}: unknown tag {sorted(data)[0]!r}")

    @staticmethod
    def items(value, where) -> list:
        if type(value) is not list:
            raise WireError(f"{where}: expected a list, got {type(value).__name__}")
        return value

    def array(self, data, where):
        try:
            dtype = np.dtype(str(data["dtype"]))
            shape = tuple(int(n) for n in self.items(data["shape"], where))
            raw = base64.b64decode(str(data["array"]).encode("ascii"), validate=True)
        except (KeyError, TypeError, ValueError) as error:
            raise WireError(f"{where}: not an array ({error})") from None
        if dtype.kind not in DTYPE_KINDS or any(n < 0 for n in shape):
            raise WireError(f"{where}: not an array of numbers ({dtype}, shape {shape})")
        self.bytes += len(raw)
        if self.bytes > MAX_BYTES:
            raise WireError(f"{where}: more than {MAX_BYTES // 2**20} MiB of arrays")
        if len(raw) != dtype.itemsize * math.prod(shape):
            raise WireError(f"{where}: {len(raw)} bytes do not make an array of {dtype} and shape {shape}")
        array = np.frombuffer(raw, dtype=dtype).reshape(shape).copy()
        return array[()] if data.get("scalar") is True and shape == () else array

    def tensor(self, data, where):
        torch = _torch()
        if torch is None:
            raise WireError(f"{where}: a tensor, and torch is not installed")
        values = self.array(data["tensor"], where)
        tensor = torch.from_numpy(np.asarray(values).copy())
        if data.get("grad") is not None:
            tensor.grad = torch.from_numpy(np.asarray(self.array(data["grad"], f"{where}.grad")).copy())
        if data.get("parameter") is True:
            grad = tensor.grad
            tensor = torch.nn.Parameter(tensor, requires_grad=data.get("requires_grad") is True)
            tensor.grad = grad
        elif data.get("requires_grad") is True:
            tensor.requires_grad_(True)
        return tensor

    def torch_generator(self, data, where):
        torch = _torch()
        state = self.array(data["torch_generator"], where)
        if torch is None or not isinstance(state, np.ndarray) or state.dtype != np.uint8 or state.ndim != 1:
            raise WireError(f"{where}: not the state of a torch.Generator")
        generator = torch.Generator()
        try:
            generator.set_state(torch.from_numpy(state))
        except RuntimeError as error:
            raise WireError(f"{where}: not the state of a torch.Generator ({error})") from None
        return generator

    def numpy_generator(self, data, where):
        state = data["numpy_generator"]
        try:
            numbers = [state["state"], state["inc"], data["has_uint32"], data["uinteger"]]
        except (KeyError, TypeError):
            raise WireError(f"{where}: not the state of a numpy Generator") from None
        if not all(type(n) is int and 0 <= n < 2**128 for n in numbers):
            raise WireError(f"{where}: not the state of a numpy Generator")
        bit_generator = np.random.PCG64()
        bit_generator.state = {"bit_generator": "PCG64", "state": {"state": numbers[0], "inc": numbers[1]},
                               "has_uint32": numbers[2], "uinteger": numbers[3]}
        return np.random.Generator(bit_generator)

    def record(self, data, where):
        name = data["record"]
        if name not in RECORDS:
            raise WireError(f"{where}: {str(name)[:80]!r} is not one of the library's records")
        fields = data.get("fields")
        if type(fields) is not dict or not all(type(k) is str for k in fields):
            raise WireError(f"{where}: a record's fields must be a dict")
        module, _, qualname = name.rpartition(".")
        cls = getattr(importlib.import_module(module), qualname)
        known = {f.name for f in dataclasses.fields(cls)}
        if set(fields) - known:
            raise WireError(f"{where}: {qualname} has no field {sorted(set(fields) - known)[0]!r}")
        try:
            return cls(**{k: self.decode(v, f"{where}.{k}") for k, v in fields.items()})
        except (TypeError, ValueError) as error:
            raise WireError(f"{where}: not a valid {qualname}: {error}") from None


def grad_leaves(value) -> abc.Iterator:
    """The tensors that require a gradient in ``value`` (lists, tuples, dict values, records' fields), in the
    order both sides of the boundary walk them: the inputs of a backward pass done in the kernel."""
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(value, torch.Tensor):
        if value.requires_grad:
            yield value
    elif isinstance(value, (list, tuple, Iterator)):
        for item in value.items if isinstance(value, Iterator) else value:
            yield from grad_leaves(item)
    elif isinstance(value, dict):
        for item in value.values():
            yield from grad_leaves(item)
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        for f in dataclasses.fields(value):
            yield from grad_leaves(getattr(value, f.name))


def _torch():
    """torch, where it is installed (imported on first use: the tabular assignments need no torch)."""
    try:
        import torch
    except ImportError:
        return None
    return torch
