"""Helpers shared by the contract tests (imported as a plain module: brownie puts this
directory on sys.path because tests/contracts has no __init__.py).

Custom errors: brownie 1.22 decodes a revert with a custom error into the string
"Name: arg1, arg2" (addresses lower-case, bytes32 as a python bytes literal, uints in
decimal, "Name: " when there are no arguments), and `brownie.reverts(msg)` compares that
string exactly. `typed_error()` builds it, so each assertion pins the error AND all of its
arguments.
"""

from brownie import web3

ZERO_ADDRESS = "0x0000000000000000000000000000000000000000"
DEFAULT_ADMIN_ROLE = "0x" + "00" * 32
MINTER_ROLE = web3.keccak(text="MINTER_ROLE").to_0x_hex()
BURNER_ROLE = web3.keccak(text="BURNER_ROLE").to_0x_hex()
PAUSER_ROLE = web3.keccak(text="PAUSER_ROLE").to_0x_hex()


def ref(label):
    """A ledger-entry ref as the relay would send it: a 0x-prefixed bytes32 hex string.
    (brownie's HexString return values compare equal to hex strings, not to bytes.)"""
    return web3.keccak(text=label).to_0x_hex()


def _fmt(arg):
    if hasattr(arg, "address"):  # brownie Account / Contract
        return arg.address.lower()
    if isinstance(arg, bytes):  # HexString (bytes32 read from the contract)
        return str(bytes(arg))
    if isinstance(arg, str) and len(arg) == 42:
        return arg.lower()
    if isinstance(arg, str) and len(arg) == 66:
        return str(bytes.fromhex(arg[2:]))
    if isinstance(arg, int):
        return str(arg)
    raise TypeError(f"no custom-error formatting for {arg!r}")


def typed_error(name, *args):
    """The revert string brownie 1.22 produces for the custom error `name(args)`."""
    return f"{name}: " + ", ".join(_fmt(a) for a in args)


def events(tx, name):
    """Every `name` event of `tx`, as plain dicts, in emission order."""
    return [dict(e) for e in tx.events[name]] if name in tx.events else []


BADGES_URI = "https://kopa.example/badges/{id}.json"
