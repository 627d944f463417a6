"""RFC 6962 Merkle trees (SHA-256): tree heads and inclusion proofs (RFC 9162 §2.1.3).

leaf hash = SHA-256(0x00 ‖ leaf), node hash = SHA-256(0x01 ‖ left ‖ right); the split of n
leaves is at k, the largest power of two smaller than n. Pure functions, no Kopa imports
beyond the standard library, so that scripts/verify_proof.py can carry the same algorithm.

The tree is built bottom-up, level by level: pair neighbours, and an odd last node moves up
unchanged. That is the same tree as the recursive split at k (the left part is always a
full tree of k leaves, so only the rightmost node of a level can lack a sibling), without
the recursion and slicing; tests/test_merkle.py checks it against the recursive definition.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

_sha256 = hashlib.sha256


def leaf_hash(leaf: bytes) -> bytes:
    return _sha256(b"\x00" + leaf).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return _sha256(b"\x01" + left + right).digest()


def _leaf_hashes(leaves: Sequence[bytes]) -> list[bytes]:
    return [_sha256(b"\x00" + leaf).digest() for leaf in leaves]


def _parent_level(level: list[bytes]) -> list[bytes]:
    pairs = zip(level[::2], level[1::2], strict=False)  # an odd last node has no pair
    parents = [_sha256(b"\x01" + left + right).digest() for left, right in pairs]
    if len(level) & 1:
        parents.append(level[-1])
    return parents


def tree_head(leaves: Sequence[bytes]) -> bytes:
    """MTH(D[n]); the empty tree's head is SHA-256 of nothing."""
    if not leaves:
        return _sha256(b"").digest()
    level = _leaf_hashes(leaves)
    while len(level) > 1:
        level = _parent_level(level)
    return level[0]


def inclusion_proof(index: int, leaves: Sequence[bytes]) -> list[bytes]:
    """PATH(m, D[n]): sibling hashes, bottom-up (a node moved up without a sibling adds none)."""
    if not 0 <= index < len(leaves):
        raise ValueError(f"leaf index {index} outside a tree of {len(leaves)}")
    level, path = _leaf_hashes(leaves), []
    while len(level) > 1:
        sibling = index ^ 1
        if sibling < len(level):
            path.append(level[sibling])
        level, index = _parent_level(level), index >> 1
    return path


def verify_inclusion(leaf: bytes, index: int, tree_size: int, proof: Sequence[bytes], root: bytes) -> bool:
    """RFC 9162 §2.1.3.2, step by step."""
    if index >= tree_size or index < 0:
        return False
    fn, sn, r = index, tree_size - 1, leaf_hash(leaf)
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root
