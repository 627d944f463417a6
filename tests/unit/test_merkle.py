"""RFC 6962 trees and RFC 9162 inclusion proofs: the published test vectors (the
certificate-transparency reference suite), every leaf of every tree up to 70 leaves, and the
standalone verifier script computing the same roots as Kopa's module."""

from __future__ import annotations

import random
import runpy
from pathlib import Path

import pytest

from rewards import merkle

ROOT = Path(__file__).resolve().parents[2]
LEAVES = [bytes.fromhex(x) for x in ("", "00", "10", "2021", "3031", "40414243", "5051525354555657",
                                     "606162636465666768696a6b6c6d6e6f")]
ROOTS = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
SCRIPT = runpy.run_path(str(ROOT / "scripts" / "verify_proof.py"))


@pytest.mark.parametrize("n", range(1, 9))
def test_tree_heads_match_the_reference_vectors(n):
    assert merkle.tree_head(LEAVES[:n]).hex() == ROOTS[n - 1]


def test_empty_tree_head_is_the_hash_of_nothing():
    assert merkle.tree_head([]).hex() == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"


def test_every_proof_of_every_small_tree_verifies_and_nothing_else_does():
    rng = random.Random(6962)
    for n in range(1, 71):
        leaves = [rng.randbytes(rng.randrange(0, 40)) for _ in range(n)]
        root = merkle.tree_head(leaves)
        for i in range(n):
            proof = merkle.inclusion_proof(i, leaves)
            assert merkle.verify_inclusion(leaves[i], i, n, proof, root)
            assert SCRIPT["root_from_proof"](leaves[i], i, n, proof) == root
            assert not merkle.verify_inclusion(leaves[i] + b"!", i, n, proof, root)
            if n > 1:
                assert not merkle.verify_inclusion(leaves[i], (i + 1) % n, n, proof, root) or \
                    leaves[i] == leaves[(i + 1) % n]
                assert not merkle.verify_inclusion(leaves[i], i, n, proof[:-1], root)
            if proof:
                j = rng.randrange(len(proof))
                bad = [*proof[:j], bytes(32), *proof[j + 1:]]
                assert not merkle.verify_inclusion(leaves[i], i, n, bad, root)
                assert SCRIPT["root_from_proof"](leaves[i], i, n, bad) != root
    with pytest.raises(ValueError):
        merkle.inclusion_proof(3, LEAVES[:3])


def _mth(hashes: list[bytes]) -> bytes:
    """RFC 6962 §2.1 as written: split at k, the largest power of two smaller than n."""
    if len(hashes) == 1:
        return hashes[0]
    k = 1 << (len(hashes) - 1).bit_length() - 1
    return merkle.node_hash(_mth(hashes[:k]), _mth(hashes[k:]))


def _rfc_path(m: int, hashes: list[bytes]) -> list[bytes]:
    if len(hashes) <= 1:
        return []
    k = 1 << (len(hashes) - 1).bit_length() - 1
    if m < k:
        return [*_rfc_path(m, hashes[:k]), _mth(hashes[k:])]
    return [*_rfc_path(m - k, hashes[k:]), _mth(hashes[:k])]


def test_the_level_by_level_tree_is_the_recursive_definition():
    """The module builds trees bottom-up; heads and paths must be those of RFC 6962's
    recursive split, for every size up to 300 and every leaf of trees up to 70."""
    rng = random.Random(9162)
    for n in range(1, 301):
        leaves = [rng.randbytes(rng.randrange(0, 60)) for _ in range(n)]
        hashes = [merkle.leaf_hash(leaf) for leaf in leaves]
        assert merkle.tree_head(leaves) == _mth(hashes), n
        for i in range(n) if n <= 70 else rng.sample(range(n), 5):
            assert merkle.inclusion_proof(i, leaves) == _rfc_path(i, hashes), (n, i)
