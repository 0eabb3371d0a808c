import msgpack
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chainfin import codec
from chainfin.codec import CodecError

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.text(max_size=20)
    | st.binary(max_size=20)
)
values = st.recursive(
    scalars,
    lambda kids: st.lists(kids, max_size=5) | st.dictionaries(st.text(max_size=8), kids, max_size=5),
    max_leaves=30,
)


@given(values)
def test_round_trip_is_canonical(v):
    data = codec.encode(v)
    back = codec.decode(data, canonical=True)
    assert codec.encode(back) == data


@given(st.dictionaries(st.text(max_size=8), st.integers(0, 10), max_size=8), st.randoms())
def test_dict_order_does_not_matter(d, rnd):
    items = list(d.items())
    rnd.shuffle(items)
    assert codec.encode(dict(items)) == codec.encode(d)


@pytest.mark.parametrize("bad", [1.5, float("nan"), {"a": 0.0}, [1, {2}], {1: "x"}, object(), 2**64])
def test_unencodable_values_are_refused(bad):
    with pytest.raises(CodecError):
        codec.encode(bad)


def test_oversized_frame_refused():
    with pytest.raises(CodecError, match="exceeds"):
        codec.decode(b"\xc0" * (codec.MAX_FRAME + 1))


def test_deep_frame_refused():
    deep = b"\x91" * 200 + b"\xc0"  # 200 nested one-element arrays
    with pytest.raises(CodecError):
        codec.decode(deep)


def test_huge_declared_length_refused_without_allocating():
    # array32 header claiming 2**32-1 elements, no body
    with pytest.raises(CodecError):
        codec.decode(b"\xdd\xff\xff\xff\xff")
    with pytest.raises(CodecError):
        codec.decode(b"\xc6\xff\xff\xff\xff")  # bin32 of 4 GiB


@pytest.mark.parametrize(
    "frame",
    [b"", b"\xc1", b"\x92\x01", b"\x01\x02", msgpack.packb(1.5), msgpack.packb({1: 2}),
     b"\xd4\x01\x00", b"\xa3ab"],
)
def test_malformed_frames_raise_typed_error(frame):
    with pytest.raises(CodecError):
        codec.decode(frame)


def test_non_canonical_rejected_when_asked():
    unsorted = msgpack.packb({"b": 1, "a": 2})
    assert codec.decode(unsorted) == {"a": 2, "b": 1}
    with pytest.raises(CodecError, match="canonical"):
        codec.decode(unsorted, canonical=True)


@settings(max_examples=300)
@given(st.binary(max_size=200))
def test_random_bytes_never_crash(data):
    try:
        codec.decode(data)
    except CodecError:
        pass


def test_what_decode_refuses_is_not_encoded():
    """A map of 10,001 entries in a transaction's args was encoded, committed, and then no
    peer could decode its block (red-team round 3): the encoder now refuses it too."""
    from chainfin.codec import MAX_ARRAY, MAX_MAP, decode, encode

    for big in ({f"k{i}": i for i in range(MAX_MAP + 1)}, list(range(MAX_ARRAY + 1)),
                {"nested": [0] * (MAX_ARRAY + 1)}):
        with pytest.raises(CodecError):
            encode(big)
    at_limit = {f"k{i}": i for i in range(MAX_MAP)}
    assert decode(encode(at_limit)) == at_limit
