"""ABI encoding of calls and decoding of logs without web3's contract machinery.

web3's ``ContractFunction``/``process_receipt`` validate, normalize and format every value
through generic layers: for a ``mintBatch`` of 100 rewards that was ~90 ms to encode the
call and ~100 ms to decode the receipt's logs (docs/benchmarks.md, "Relay throughput"),
more than the node needs to mine it. Kopa's batch calls and events only carry 32-byte words
(address, uint256, bytes32, bool and arrays of them), which encode and decode directly; any
other type falls back to ``eth_abi``. Logs and receipts here are the node's raw JSON-RPC
dicts (hex strings), not web3's ``AttributeDict``s.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache

import eth_abi
from eth_utils import keccak

WORD = 32
_ZERO12 = bytes(12)
_TRUE = (1).to_bytes(WORD, "big")
_FALSE = bytes(WORD)
# Types that are one 32-byte word, as values in a call or a log.
WORD_TYPES = frozenset({"address", "uint256", "bytes32", "bool"})


@cache
def selector(signature: str) -> bytes:
    """The 4-byte function selector of e.g. ``mintBatch(address[],uint256[],bytes32[])``."""
    return keccak(text=signature)[:4]


@cache
def topic(signature: str) -> str:
    """The 0x-hex topic 0 of an event signature, e.g. ``RewardMinted(address,uint256,bytes32)``."""
    return "0x" + keccak(text=signature).hex()


def _address_bytes(value) -> bytes:
    raw = bytes.fromhex(value.removeprefix("0x")) if isinstance(value, str) else bytes(value)
    if len(raw) != 20:
        raise ValueError(f"not an address: {value!r}")
    return raw


def _word(kind: str, value) -> bytes:
    if kind == "uint256":
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 1 << 256:
            raise ValueError(f"not a uint256: {value!r}")
        return value.to_bytes(WORD, "big")
    if kind == "bytes32":
        raw = bytes.fromhex(value.removeprefix("0x")) if isinstance(value, str) else bytes(value)
        if len(raw) > WORD:
            raise ValueError(f"longer than bytes32: {value!r}")
        return raw.ljust(WORD, b"\0")
    if kind == "address":
        return _ZERO12 + _address_bytes(value)
    if kind == "bool":
        if not isinstance(value, bool):
            raise ValueError(f"not a bool: {value!r}")
        return _TRUE if value else _FALSE
    raise ValueError(f"not a word type: {kind}")


def _split(abi_type: str) -> tuple[str, bool] | None:
    """(element type, is an array) for a word type or a dynamic array of one; else None."""
    if abi_type.endswith("[]") and abi_type[:-2] in WORD_TYPES:
        return abi_type[:-2], True
    if abi_type in WORD_TYPES:
        return abi_type, False
    return None


def encode_args(types: Sequence[str], args: Sequence) -> bytes:
    """ABI-encode ``args`` (what ``eth_abi.encode(types, args)`` returns)."""
    if len(types) != len(args):
        raise ValueError(f"{len(types)} types for {len(args)} arguments")
    shapes = [_split(t) for t in types]
    if any(s is None for s in shapes):
        return eth_abi.encode(list(types), list(args))
    head: list[bytes] = []
    tail: list[bytes] = []
    offset = WORD * len(types)
    for (kind, is_array), value in zip(shapes, args, strict=True):
        if not is_array:
            head.append(_word(kind, value))
            continue
        head.append(offset.to_bytes(WORD, "big"))
        tail.append(len(value).to_bytes(WORD, "big"))
        tail.extend(_word(kind, v) for v in value)
        offset += WORD * (len(value) + 1)
    return b"".join(head) + b"".join(tail)


def encode_call(name: str, types: Sequence[str], args: Sequence) -> bytes:
    """Calldata: the selector of ``name(types...)`` followed by the encoded arguments."""
    return selector(f"{name}({','.join(types)})") + encode_args(types, args)


def _hex_bytes(data) -> bytes:
    return bytes.fromhex(data.removeprefix("0x")) if isinstance(data, str) else bytes(data)


def _unword(kind: str, word: bytes):
    if kind == "uint256":
        return int.from_bytes(word, "big")
    if kind == "bytes32":
        return bytes(word)
    if kind == "address":
        return "0x" + word[12:].hex()
    if kind == "bool":
        value = int.from_bytes(word, "big")
        if value > 1:
            raise ValueError("not a bool")
        return value == 1
    raise ValueError(f"not a word type: {kind}")


def decode_args(types: Sequence[str], data) -> tuple:
    """Decode ABI-encoded ``data``: what ``eth_abi.decode(types, data)`` returns (arrays as
    tuples, addresses lowercase 0x hex); malformed data raises ``ValueError``."""
    raw = _hex_bytes(data)
    shapes = [_split(t) for t in types]
    if any(s is None for s in shapes):
        return tuple(eth_abi.decode(list(types), raw))
    if len(raw) < WORD * len(types):
        raise ValueError("ABI data shorter than its head")
    out = []
    for i, (kind, is_array) in enumerate(shapes):
        word = raw[WORD * i:WORD * (i + 1)]
        if not is_array:
            out.append(_unword(kind, word))
            continue
        start = int.from_bytes(word, "big")
        if start + WORD > len(raw):
            raise ValueError("ABI array offset out of range")
        count = int.from_bytes(raw[start:start + WORD], "big")
        end = start + WORD * (count + 1)
        if end > len(raw):
            raise ValueError("ABI array longer than the data")
        out.append(tuple(_unword(kind, raw[p:p + WORD]) for p in range(start + WORD, end, WORD)))
    return tuple(out)


@dataclass(frozen=True, slots=True)
class Log:
    """One decoded event log: where it is and its arguments by name."""

    event: str
    address: str  # lowercase 0x hex, as the node sends it
    args: dict
    tx_hash: str  # 0x hex, lowercase
    block_number: int
    block_hash: str
    log_index: int


class EventCodec:
    """Decodes one event of an ABI from raw logs, by topic 0 and the emitting address."""

    def __init__(self, abi_entry: dict) -> None:
        self.name = abi_entry["name"]
        inputs = abi_entry["inputs"]
        self.signature = f"{self.name}({','.join(i['type'] for i in inputs)})"
        self.topic = topic(self.signature)
        self.indexed = [(i["name"], i["type"]) for i in inputs if i.get("indexed")]
        self.data = [(i["name"], i["type"]) for i in inputs if not i.get("indexed")]
        self.order = [i["name"] for i in inputs]

    def matches(self, log: dict, address: str | None = None) -> bool:
        topics = log.get("topics") or []
        return (
            len(topics) == 1 + len(self.indexed)
            and topics[0].lower() == self.topic
            and not log.get("removed", False)
            and (address is None or log["address"].lower() == address.lower())
        )

    def decode(self, log: dict) -> Log:
        """The log's arguments; raises ``ValueError`` if it is not this event's."""
        if not self.matches(log):
            raise ValueError(f"not a {self.name} log")
        args = {}
        for (name, kind), value in zip(self.indexed, log["topics"][1:], strict=True):
            word = _hex_bytes(value)
            # An indexed dynamic value is only its hash in the topic: keep the hash.
            args[name] = _unword(kind, word) if kind in WORD_TYPES else word
        if self.data:
            values = decode_args([k for _, k in self.data], log["data"])
            args.update((name, v) for (name, _), v in zip(self.data, values, strict=True))
        return Log(
            event=self.name,
            address=log["address"].lower(),
            args={name: args[name] for name in self.order},
            tx_hash=log["transactionHash"].lower(),
            block_number=int(log["blockNumber"], 16),
            block_hash=log["blockHash"].lower(),
            log_index=int(log["logIndex"], 16),
        )

    def decode_all(self, logs: Iterable[dict], address: str | None = None) -> list[Log]:
        """This event's logs among ``logs`` (others, and those of other addresses, skipped)."""
        return [self.decode(log) for log in logs if self.matches(log, address)]


def event_codec(abi: list[dict], name: str) -> EventCodec:
    """The codec of event ``name`` in ``abi`` (built once per ABI and event)."""
    return EventCodec(next(e for e in abi if e.get("type") == "event" and e.get("name") == name))
