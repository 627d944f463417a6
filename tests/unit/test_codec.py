"""rewards/chain/codec.py: the relay's own ABI encoding and log decoding agree with eth_abi
on generated values (tests/chain/test_codec_receipts.py checks them against a real anvil's receipts)."""

from __future__ import annotations

import eth_abi
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rewards.chain.codec import decode_args, encode_args, selector

WORDS = {
    "address": st.binary(min_size=20, max_size=20).map(lambda b: "0x" + b.hex()),
    "uint256": st.integers(min_value=0, max_value=2**256 - 1),
    "bytes32": st.binary(min_size=32, max_size=32),
    "bool": st.booleans(),
}


@st.composite
def typed_values(draw):
    """A list of (type, value) with word types and dynamic arrays of them."""
    out = []
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        kind = draw(st.sampled_from(sorted(WORDS)))
        if draw(st.booleans()):
            out.append((kind + "[]", draw(st.lists(WORDS[kind], max_size=6))))
        else:
            out.append((kind, draw(WORDS[kind])))
    return out


@settings(max_examples=300, deadline=None)
@given(typed_values())
def test_encode_and_decode_agree_with_eth_abi(values):
    types = [t for t, _ in values]
    args = [v for _, v in values]
    encoded = encode_args(types, args)
    assert encoded == eth_abi.encode(types, args)
    assert decode_args(types, encoded) == eth_abi.decode(types, encoded)


def test_other_types_fall_back_to_eth_abi_and_bad_values_are_refused():
    mixed = ["string", "uint256"]
    assert encode_args(mixed, ["kopa", 7]) == eth_abi.encode(mixed, ["kopa", 7])
    assert decode_args(["string"], eth_abi.encode(["string"], ["kopa"])) == ("kopa",)
    for kind, bad in (("uint256", -1), ("uint256", 2**256), ("uint256", True), ("address", "0x1234"),
                      ("bytes32", bytes(33)), ("bool", 1)):
        with pytest.raises(ValueError):
            encode_args([kind], [bad])
    with pytest.raises(ValueError):
        decode_args(["uint256[]"], bytes(31))
    with pytest.raises(ValueError):  # an array claiming more elements than the data has
        decode_args(["uint256[]"], (32).to_bytes(32, "big") + (5).to_bytes(32, "big"))
    assert selector("transfer(address,uint256)").hex() == "a9059cbb"
