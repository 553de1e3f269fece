"""rl_course.wire: what crosses the grading boundary, both ways, and what decoding refuses."""

import base64
import json
import math

import numpy as np
import pytest
import torch

from rl_course import wire
from rl_course.ppo.config import PPOConfig
from rl_course.tabular import Episode


def roundtrip(value):
    return wire.decode(json.loads(json.dumps(wire.encode(value))))


@pytest.mark.parametrize("value", [None, True, False, 0, -3, 2**70, 1.5, "Ψ₍₁₎", [], [1, [2.0, "x"]], {"a": 1, 2: [3]},
                                   (1, (2, 3)), {"nested": ({"k": [None]},)}])
def test_plain_values_come_back_equal_and_of_their_type(value):
    back = roundtrip(value)
    assert back == value
    assert type(back) is type(value)


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_floats_json_lacks(value):
    back = roundtrip(value)
    assert type(back) is float and (math.isnan(back) if math.isnan(value) else back == value)


@pytest.mark.parametrize("array", [np.arange(6.0).reshape(2, 3), np.array([True, False]), np.arange(5, dtype=np.int32),
                                   np.zeros((0, 4)), np.array(3.5), np.array([1 + 2j]), np.arange(12.0).reshape(3, 4)[:, ::2],
                                   np.array([np.nan, -np.inf], dtype=np.float32), np.arange(3, dtype=">i8")])
def test_arrays_keep_values_dtype_and_shape(array):
    back = roundtrip(array)
    assert isinstance(back, np.ndarray) and back.dtype == array.dtype and back.shape == array.shape
    np.testing.assert_array_equal(back, array)
    assert back.flags.writeable


@pytest.mark.parametrize("scalar", [np.float64(0.25), np.float32(1.5), np.int64(-2), np.bool_(True)])
def test_numpy_scalars_stay_scalars(scalar):
    back = roundtrip(scalar)
    assert type(back) is type(scalar) and back == scalar


def test_tensors_keep_requires_grad_grad_and_parameters():
    t = torch.arange(3.0, requires_grad=True)
    t.grad = torch.ones(3)
    p = torch.nn.Parameter(torch.zeros(2, 2))
    back_t, back_p, plain = roundtrip([t, p, torch.tensor([1, 2])])
    assert back_t.requires_grad and back_t.is_leaf and torch.equal(back_t.detach(), t.detach()) and torch.equal(back_t.grad, t.grad)
    assert isinstance(back_p, torch.nn.Parameter) and back_p.requires_grad and back_p.shape == (2, 2)
    assert not plain.requires_grad and plain.dtype == torch.int64


def test_records_of_the_library():
    episode = Episode(states=[2, 3, 4], rewards=[0.0, 1.0])
    back = roundtrip(episode)
    assert isinstance(back, Episode)
    np.testing.assert_array_equal(back.states, episode.states)
    config = roundtrip(PPOConfig(n_envs=3))
    assert isinstance(config, PPOConfig) and config.n_envs == 3


class Lying:
    def __array__(self, *args, **kwargs):  # what a hostile answer might return
        raise RuntimeError("called")


@pytest.mark.parametrize("value", [object(), Lying(), np.array([object()], dtype=object), np.array(["a"]), {1.5j: 1},
                                   {(1, 2): 3}, type, len, set([1])])
def test_what_cannot_be_sent_is_named(value):
    with pytest.raises(wire.WireError, match="cannot be sent|dict key"):
        wire.encode([value], "result")


def test_the_error_says_where():
    with pytest.raises(wire.WireError, match=r"result\[1\]\['V'\]"):
        wire.encode((1, {"V": object()}), "result")


def test_subclasses_of_plain_types_are_refused():
    class Sneaky(float):
        def __eq__(self, other):
            return True

    class SneakyList(list):
        pass

    for value in (Sneaky(1.0), SneakyList([1])):
        with pytest.raises(wire.WireError):
            wire.encode(value)


def array(data: bytes, dtype: str, shape: list) -> dict:
    return {"array": base64.b64encode(data).decode(), "dtype": dtype, "shape": shape}


@pytest.mark.parametrize("data", [
    {"record": "os.system", "fields": {}},  # no type outside the library's records
    {"record": "rl_course.episodes.Episode", "fields": {"states": [1], "rewards": [], "evil": 1}},
    {"record": "rl_course.episodes.Episode", "fields": {"states": [1, 2], "rewards": []}},  # the record's own check
    array(b"\0" * 8, "|O", [1]),  # object arrays would unpickle
    array(b"\0" * 7, "<f8", [1]),  # bytes that do not fill the shape
    array(b"\0" * 8, "<f8", [-1]),
    array(b"\0" * 8, "<U2", [1]),
    {"array": "not base64!", "dtype": "<f8", "shape": [1]},
    {"float": "1e308"},
    {"tuple": "abc"},
    {"dict": [[[1], 2]]},
    {"pickle": "gASV"},
    {},
    {"tensor": array(b"\0" * 8, "|O", [1])},
])
def test_decoding_refuses_what_is_not_the_format(data):
    with pytest.raises(wire.WireError):
        wire.decode(data)


def test_size_is_bounded(monkeypatch):
    monkeypatch.setattr(wire, "MAX_BYTES", 1000)
    with pytest.raises(wire.WireError, match="MiB"):
        wire.encode([np.zeros(100), np.zeros(100)])
    with pytest.raises(wire.WireError, match="MiB"):
        wire.decode([array(b"\0" * 800, "<f8", [100]), array(b"\0" * 800, "<f8", [100])])


def test_grad_leaves_are_walked_in_one_order():
    a, b, c = (torch.zeros(1, requires_grad=True) for _ in range(3))
    value = ([a, torch.zeros(1)], {"x": b, "y": (c,)}, Episode(states=[0, 1], rewards=[0.0]))
    assert [id(t) for t in wire.grad_leaves(value)] == [id(a), id(b), id(c)]
    back = roundtrip(value)
    assert len(list(wire.grad_leaves(back))) == 3


def test_generators_cross_with_their_state():
    g = torch.Generator().manual_seed(7)
    rng = np.random.default_rng(7)
    back_g, back_rng = roundtrip([g, rng])
    torch.testing.assert_close(torch.randn(3, generator=back_g), torch.randn(3, generator=g))
    np.testing.assert_array_equal(back_rng.normal(size=3), rng.normal(size=3))
    for data in ({"torch_generator": array(b"\0" * 8, "<f8", [1])}, {"numpy_generator": {"state": -1, "inc": 1}},
                 {"numpy_generator": {"state": 1.5, "inc": 1}, "has_uint32": 0, "uinteger": 0}):
        with pytest.raises(wire.WireError):
            wire.decode(data)
