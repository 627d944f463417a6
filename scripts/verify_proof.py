#!/usr/bin/env python3
"""Check a Kopa ledger entry's inclusion proof against the root anchored on chain.

Standalone: the standard library plus eth-hash (for the function selector); no Kopa code.

    python3 scripts/verify_proof.py proof.json --rpc-url http://127.0.0.1:8545 --anchor 0xAnchor

``proof.json`` is the answer of ``GET /api/v1/ledger/<entry_id>/proof``: {epoch, index,
tree_size, leaf, proof, root}. The tree is RFC 6962 with SHA-256 (leaf hash H(0x00‖leaf),
node hash H(0x01‖left‖right)); the proof is checked as in RFC 9162 §2.1.3.2 and the
resulting root compared with ``KopaLedgerAnchor.rootOf(epoch)`` read through eth_call (or
with ``--root`` when no RPC is at hand). Exit status 0 = proved, 1 = not proved.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import urllib.request

from eth_hash.auto import keccak


def _h(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def root_from_proof(leaf: bytes, index: int, tree_size: int, proof: list[bytes]) -> bytes | None:
    """RFC 9162 §2.1.3.2; None if the proof cannot belong to a tree of that size."""
    if not 0 <= index < tree_size:
        return None
    fn, sn, r = index, tree_size - 1, _h(b"\x00" + leaf)
    for p in proof:
        if sn == 0:
            return None
        if fn & 1 or fn == sn:
            r = _h(b"\x01" + p + r)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = _h(b"\x01" + r + p)
        fn >>= 1
        sn >>= 1
    return r if sn == 0 else None


def chain_root(rpc_url: str, anchor: str, epoch: int) -> bytes:
    """``rootOf(uint256)`` through a raw eth_call."""
    selector = keccak(b"rootOf(uint256)")[:4]
    data = "0x" + selector.hex() + epoch.to_bytes(32, "big").hex()
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "eth_call",
                       "params": [{"to": anchor, "data": data}, "latest"]}).encode()
    request = urllib.request.Request(rpc_url, data=body, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        answer = json.load(response)
    if "error" in answer:
        raise SystemExit(f"eth_call failed: {answer['error']}")
    return bytes.fromhex(answer["result"][2:])[:32]


def _bytes(value: str) -> bytes:
    return bytes.fromhex(value.removeprefix("0x"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("proof", help="the proof JSON file ('-' for stdin)")
    parser.add_argument("--rpc-url", help="JSON-RPC URL of the chain")
    parser.add_argument("--anchor", help="KopaLedgerAnchor address")
    parser.add_argument("--root", help="compare with this root instead of reading the chain")
    args = parser.parse_args(argv)
    if args.proof == "-":
        text = sys.stdin.read()
    else:
        with open(args.proof, encoding="utf-8") as file:
            text = file.read()
    data = json.loads(text)
    leaf = _bytes(data["leaf"])
    computed = root_from_proof(leaf, int(data["index"]), int(data["tree_size"]),
                               [_bytes(p) for p in data["proof"]])
    if args.root:
        expected, source = _bytes(args.root), "--root"
    elif args.rpc_url and args.anchor:
        expected = chain_root(args.rpc_url, args.anchor, int(data["epoch"]))
        source = f"rootOf({data['epoch']})"
    else:
        parser.error("give --rpc-url and --anchor (or --root)")
    entry = json.loads(leaf)
    if computed is not None and computed == expected and any(expected):
        print(f"PROVED: entry {entry.get('id')} ({entry.get('points')} points, ref {entry.get('ref')}) is "
              f"leaf {data['index']} of epoch {data['epoch']}; root 0x{expected.hex()} = {source}")
        return 0
    shown = "invalid proof" if computed is None else "0x" + computed.hex()
    print(f"NOT PROVED: proof gives {shown}, {source} is 0x{expected.hex()}")
    return 1


if __name__ == "__main__":
    sys.exit(main())
