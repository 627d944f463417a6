"""The chain side of auditing: reconciliation against balances and replayed events, epoch
roots read back from KopaLedgerAnchor, and EIP-191 signatures on export manifests."""

from __future__ import annotations

from collections import defaultdict

from eth_account import Account
from eth_account.messages import encode_defunct
from sqlalchemy.orm import Session
from web3 import Web3

from rewards.audit.reconcile import ledger_side
from rewards.chain.client import artifact, rpc
from rewards.chain.codec import decode_args, encode_call, event_codec
from rewards.chain.deploy import ANCHOR, CREDITS, recorded_deployment
from rewards.chain.platform import minter_account
from rewards.chain.reader import balances_of, calls_at, contract_logs
from rewards.vault import KeyVault

ZERO = "0x" + "00" * 20
EVENTS = ("Transfer", "RewardMinted", "CreditsRedeemed")


def _calls_at(w3: Web3, block: int, calls: list[tuple[str, str, list, list]], out: str) -> list:
    """``eth_call``s ``(to, function, types, args)`` at ``block``, each answer one ``out``."""
    data = [(to, encode_call(name, types, args)) for to, name, types, args in calls]
    return [decode_args([out], raw)[0] for raw in calls_at(w3, data, block=block)]


def reconcile(session: Session, w3: Web3) -> dict:
    """For every holder: ledger total, delivered total, ``balanceOf`` and a replay of the
    contract's Transfer events from its deployment block; every delivered entry against its
    RewardMinted/CreditsRedeemed event; events without an entry; supply vs ledger; each
    anchored epoch's root recomputed from today's rows vs ``rootOf``. ``ok`` only if nothing
    differs. Pending items are listed with their age and never count as mismatches.

    Every chain read is made at one block, the head once the ledger side is read (so what
    the database calls delivered is in it): balances as batched raw ``eth_call``s, the
    three events from one ``eth_getLogs`` decoded by topic (``rewards.chain.codec``)."""
    chain_id = w3.eth.chain_id
    deployment = recorded_deployment(session, chain_id, CREDITS)
    side = ledger_side(session)
    mismatches: list[dict] = []
    if deployment is None:
        return {"ok": False, "holders": [], "mismatches": [{"kind": "no-deployment",
                "detail": f"no {CREDITS} deployment recorded for chain {chain_id}"}],
                "total_supply": None,
                "ledger_total": sum(h["ledger_total"] for h in side["holders"].values()),
                "pending": side["pending"], "epochs": side["epochs"]}
    token = Web3.to_checksum_address(deployment.address)
    start = deployment.block_number
    block = int(rpc(w3, "eth_blockNumber", []), 16)
    replayed, on_chain = _replay(w3, token, start, block)
    mismatches += _entry_mismatches(side["delivered_refs"], on_chain)
    holders = _holders(w3, token, block, side, replayed, mismatches)
    [total_supply] = _calls_at(w3, block, [(token, "totalSupply", [], [])], "uint256")
    ledger_total = sum(h["ledger_total"] for h in side["holders"].values())
    delivered_total = sum(h["delivered_total"] for h in side["holders"].values())
    if total_supply != delivered_total:
        mismatches.append({"kind": "total-supply", "entries": [],
                           "detail": f"totalSupply {total_supply}, delivered ledger total {delivered_total}"})
    epochs = side["epochs"]
    mismatches += _epoch_mismatches(w3, block, recorded_deployment(session, chain_id, ANCHOR), epochs)
    for epoch in epochs:
        epoch.pop("entry_ids", None)
    return {
        "ok": not mismatches,
        "chain_id": chain_id,
        "contract": deployment.address,
        "from_block": start,
        "to_block": block,
        "holders": holders,
        "mismatches": mismatches,
        "total_supply": total_supply,
        "ledger_total": ledger_total,
        "delivered_total": delivered_total,
        "pending": side["pending"],
        "epochs": epochs,
    }


def _replay(w3: Web3, token: str, start: int, block: int) -> tuple[dict[str, int], dict[str, dict]]:
    """From one ``eth_getLogs``: each address's balance replayed from Transfer events, and
    each ref's RewardMinted or CreditsRedeemed event."""
    abi = artifact("KopaCredits")["abi"]
    codecs = {name: event_codec(abi, name) for name in EVENTS}
    logs = contract_logs(w3, token, [c.topic for c in codecs.values()], start, block)
    replayed: dict[str, int] = defaultdict(int)
    for ev in codecs["Transfer"].decode_all(logs, token):
        value, source, target = ev.args["value"], ev.args["from"], ev.args["to"]
        if source != ZERO:
            replayed[source] -= value
        if target != ZERO:
            replayed[target] += value
    on_chain: dict[str, dict] = {}
    for name, sign in (("RewardMinted", 1), ("CreditsRedeemed", -1)):
        holder_arg = "to" if sign > 0 else "from"
        for ev in codecs[name].decode_all(logs, token):
            on_chain["0x" + ev.args["ref"].hex()] = {
                "event": name, "address": ev.args[holder_arg], "points": sign * ev.args["amount"],
                "tx_hash": ev.tx_hash, "block": ev.block_number,
            }
    return replayed, on_chain


def _entry_mismatches(delivered: dict[str, dict], on_chain: dict[str, dict]) -> list[dict]:
    """Delivered entries against the events carrying their refs, then events without one."""
    mismatches = []
    for ref, row in delivered.items():
        event = on_chain.get(ref)
        if event is None:
            mismatches.append({"kind": "entry-not-on-chain", "member_id": row["member_id"],
                               "entries": [row["entry_id"]], "ref": ref,
                               "detail": "recorded as delivered but no event carries its ref"})
        elif event["points"] != row["points"] or event["address"] != (row["address"] or "").lower():
            mismatches.append({"kind": "entry-differs", "member_id": row["member_id"],
                               "entries": [row["entry_id"]], "ref": ref, "tx_hash": event["tx_hash"],
                               "detail": f"ledger says {row['points']} for {row['address']}, "
                                         f"chain says {event['points']} for {event['address']}"})
    for ref, event in on_chain.items():
        if ref not in delivered:
            mismatches.append({"kind": "chain-without-entry", "address": event["address"], "entries": [],
                               "ref": ref, "tx_hash": event["tx_hash"],
                               "detail": f"{event['event']} of {event['points']} "
                                         "with no delivered ledger entry"})
    return mismatches


def _holders(
    w3: Web3, token: str, block: int, side: dict, replayed: dict[str, int], mismatches: list[dict]
) -> list[dict]:
    """Each member's ledger totals beside ``balanceOf`` and the replay; a holder who differs
    and credits held by no member's wallet are added to ``mismatches``."""
    holders = []
    known = set()
    ordered = sorted(side["holders"].values(), key=lambda h: h["member_id"])
    balances = iter(balances_of(w3, token, [h["address"] for h in ordered if h["address"]], block=block))
    for h in ordered:
        address = h["address"]
        balance = replay = None
        if address:
            known.add(address.lower())
            balance = next(balances)
            replay = replayed.get(address.lower(), 0)
        ok = balance == h["delivered_total"] and replay == h["delivered_total"]
        row = {k: h[k] for k in ("member_id", "address", "ledger_total", "delivered_total", "pending_total")}
        row.update(balance=balance, replayed=replay, ok=ok)
        holders.append(row)
        if not ok:
            mismatches.append({"kind": "holder-balance", "member_id": h["member_id"],
                               "address": address, "entries": h["entries"],
                               "detail": f"delivered ledger total {h['delivered_total']}, "
                                         f"balanceOf {balance}, replayed events {replay}"})
    for address, value in replayed.items():
        if address not in known and value != 0:
            mismatches.append({"kind": "unknown-holder", "address": address, "entries": [],
                               "detail": f"{value} credits held by an address that is no member's wallet"})
    return holders


def _epoch_mismatches(w3: Web3, block: int, anchor_deployment, epochs: list[dict]) -> list[dict]:
    """Each anchored epoch's ``rootOf`` (kept in the epoch as ``chain_root``) against its
    recorded root and the root recomputed from today's rows."""
    anchored = [e for e in epochs if e["anchored"]] if anchor_deployment is not None else []
    if not anchored:
        return []
    anchor = Web3.to_checksum_address(anchor_deployment.address)
    calls = [(anchor, "rootOf", ["uint256"], [e["epoch"]]) for e in anchored]
    mismatches = []
    for epoch, raw in zip(anchored, _calls_at(w3, block, calls, "bytes32"), strict=True):
        root = "0x" + raw.hex()
        epoch["chain_root"] = root
        if root != epoch["root"] or root != epoch["recomputed_root"]:
            mismatches.append({"kind": "epoch-root", "epoch": epoch["epoch"],
                               "entries": epoch["entry_ids"],
                               "detail": f"root on chain {root}, recorded {epoch['root']}, "
                                         f"recomputed from today's rows {epoch['recomputed_root']}"})
    return mismatches


def chain_facts(session: Session, w3: Web3) -> dict:
    """Where an outsider checks the export: chain id and contract addresses."""
    chain_id = w3.eth.chain_id
    credits = recorded_deployment(session, chain_id, CREDITS)
    anchor = recorded_deployment(session, chain_id, ANCHOR)
    return {
        "chain_id": chain_id,
        "credits_contract": credits.address if credits else None,
        "credits_from_block": credits.block_number if credits else None,
        "anchor_contract": anchor.address if anchor else None,
    }


def sign_manifest(session: Session, vault: KeyVault, manifest: str) -> tuple[str, str]:
    """EIP-191 (personal_sign) signature of the manifest text by the platform key; anyone
    checks it with `cast wallet verify --address <signer> "$(cat manifest.json)" <sig>`."""
    account = minter_account(session, vault)
    signed = account.sign_message(encode_defunct(text=manifest))
    return account.address, "0x" + bytes(signed.signature).hex()


def platform_address(session: Session, vault: KeyVault) -> str:
    return minter_account(session, vault).address


def signer_of(manifest: str, signature: str) -> str:
    return Account.recover_message(encode_defunct(text=manifest), signature=signature)
