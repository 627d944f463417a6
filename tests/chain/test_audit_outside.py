"""The auditor's view from outside (#7): the steps of docs/auditing.md run literally with
npm's `cast` against the test anvil and prove a member's balance from a signed export; no
e-mail address or member name appears in any calldata or event data of a seeded run; the
audit API and pages (ledger explorer, proofs, reconciliation, exports, validators)."""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import zipfile
from pathlib import Path

import pytest
from eth_account import Account
from eth_account.messages import encode_defunct
from sqlalchemy import select

from community.demo import seed_demo
from community.models import Role, User
from rewards.audit.actions import verify_audit_log
from rewards.audit.epochs import close_epoch
from rewards.audit.validators import validator_stats
from rewards.chain.anvil import foundry_binary
from rewards.chain.relay import Relay
from rewards.models import AuditLogRow, LedgerEntry, OutboxItem, Wallet
from tests.support.audit import tamper_points
from tests.support.chain import deploy_for
from tests.support.community import SECRET
from tests.support.relay import drain
from tests.support.web import token_for
from web import bootstrap

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.chain


def doc_steps() -> str:
    """Every ```sh block of docs/auditing.md, in order, except the two placeholder exports
    (RPC and ADDR), which the test sets in the environment instead."""
    text = (ROOT / "docs" / "auditing.md").read_text()
    blocks = re.findall(r"```sh\n(.*?)```", text, flags=re.S)
    lines = [line for block in blocks for line in block.splitlines()
             if not line.startswith(("export RPC=", "export ADDR="))]
    commands = [line for line in lines if line.strip() and not line.startswith(("SIGNER=", "CREDITS="))]
    assert len(commands) <= 5, commands
    return "set -euo pipefail\n" + "\n".join(lines) + "\n"


@pytest.fixture
def chain_app(app, app_community, anvil):
    db, vault = app.extensions["kopa.db"], app.extensions["kopa.vault"]
    w3, minter, token, _ = deploy_for(db, vault, anvil.url)
    c = app_community
    people = {"staff": c.user(Role.STAFF), "auditor": c.user(Role.AUDITOR), "admin": c.user(Role.ADMIN),
              "member": c.user(), "other": c.user()}
    for member, complexity in (("member", 40), ("member", 60), ("other", 20)):
        c.approved(people[member], people["staff"], c.task(people["staff"], complexity=complexity))
    relay = Relay(db, w3, minter)
    drain(relay)
    return {"db": db, "w3": w3, "token": token, "relay": relay, "people": people}


def test_docs_auditing_steps_prove_a_balance_with_cast(chain_app, client, app_community, anvil, tmp_path):
    people = chain_app["people"]
    with chain_app["db"].read_sessions() as session:
        address = session.scalars(select(Wallet.address).where(Wallet.user_id == people["member"])).one()
    headers = token_for(client, app_community, people["auditor"])
    export = client.get("/api/v1/audit/export", headers=headers)
    assert export.status_code == 200
    for name, content in export.json["files"].items():
        (tmp_path / name).write_text(content)
    (tmp_path / "manifest.json").write_text(export.json["manifest"])
    (tmp_path / "manifest.sig").write_text(export.json["signature"])
    cast_dir = str(Path(foundry_binary("cast")).parent)
    env = {**os.environ, "RPC": anvil.url, "ADDR": address, "PATH": f"{cast_dir}:{os.environ['PATH']}"}
    script = doc_steps()
    done = subprocess.run(["bash", "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout.splitlines()
    assert any("Validation succeeded" in line for line in out), out
    assert "true" in out
    assert any('"ledger.csv"' in line for line in out)
    export_total, chain_balance = out[-2].split()[0], out[-1].split()[0]
    assert export_total == chain_balance == "100"

    # A changed CSV (one more point) is caught by step 3; a forged manifest by step 1.
    csv_text = export.json["files"]["ledger.csv"]
    (tmp_path / "ledger.csv").write_text(csv_text.replace(",40,done,", ",400,done,"))
    assert ",400,done," in (tmp_path / "ledger.csv").read_text()
    assert subprocess.run(["bash", "-c", script], cwd=tmp_path, env=env, capture_output=True,
                          timeout=120).returncode != 0
    (tmp_path / "ledger.csv").write_text(csv_text)
    forged = export.json["manifest"].replace('"entry_count": 3', '"entry_count": 2')
    assert forged != export.json["manifest"]
    (tmp_path / "manifest.json").write_text(forged)
    assert subprocess.run(["bash", "-c", script], cwd=tmp_path, env=env, capture_output=True,
                          timeout=120).returncode != 0


def test_seeded_run_puts_no_email_or_name_on_chain(sqlite_url, vault, anvil):

    db = bootstrap.database(sqlite_url, secret_key=SECRET)
    try:
        w3, minter, _, start = deploy_for(db, vault, anvil.url)
        assert seed_demo(db)
        with db.read_sessions() as session:
            admin = session.scalars(select(User.id).where(User.role == "admin")).first()
        close_epoch(db.unit_of_work(), actor_id=admin)
        drain(Relay(db, w3, minter))
        with db.read_sessions() as session:
            people = session.execute(select(User.email, User.display_name)).all()
            kinds = {r.kind for r in session.scalars(select(OutboxItem)) if r.status == "done"}
        assert {"mint", "anchor"} <= kinds
        needles = set()
        for email, name in people:
            for value in (email, name, *name.split()):
                if len(value.encode()) >= 4:
                    needles |= {value.encode(), value.lower().encode(), value.encode().hex().encode()}
        assert len(needles) > 30
        haystack = []
        for number in range(start, w3.eth.block_number + 1):
            block = w3.eth.get_block(number, full_transactions=True)
            for tx in block.transactions:
                haystack.append(bytes(tx["input"]))
                for log in w3.eth.get_transaction_receipt(tx["hash"])["logs"]:
                    haystack.append(bytes(log["data"]))
                    haystack.extend(bytes(t) for t in log["topics"])
        assert len(haystack) > 10
        blob = b"\n".join(haystack)
        found = [n for n in needles if n in blob or n in blob.hex().encode()]
        assert found == []
    finally:
        db.dispose()


def test_ledger_api_pages_all_entries_newest_first(chain_app, client, app_community):
    people = chain_app["people"]
    auditor = token_for(client, app_community, people["auditor"])
    first = client.get("/api/v1/ledger?limit=2", headers=auditor).json
    assert [e["id"] for e in first["items"]] == sorted((e["id"] for e in first["items"]), reverse=True)
    assert len(first["items"]) == 2 and first["next"] == first["items"][-1]["id"]
    rest = client.get(f"/api/v1/ledger?limit=2&before={first['next']}", headers=auditor).json
    assert len(rest["items"]) == 1 and rest["next"] is None
    assert {e["member_id"] for e in first["items"] + rest["items"]} == {people["member"], people["other"]}
    entry = first["items"][0]
    assert entry["tx_hash"] and entry["address"] and entry["mint_status"] == "done"
    carried = client.get(f"/api/v1/ledger?q={entry['tx_hash']}", headers=auditor).json["items"]
    assert entry["id"] in [e["id"] for e in carried]
    member = token_for(client, app_community, people["member"])
    own = client.get("/api/v1/ledger", headers=member).json["items"]
    assert {e["member_id"] for e in own} == {people["member"]} and len(own) == 2
    assert client.get(f"/api/v1/ledger?member={people['other']}", headers=member).status_code == 403
    bad = client.get("/api/v1/ledger?limit=0", headers=auditor)
    assert bad.status_code == 400 and "limit" in bad.json["message"]


def test_proof_api_epochs_and_reconciliation_roles(chain_app, client, app_community, anvil):
    people = chain_app["people"]
    auditor = token_for(client, app_community, people["auditor"])
    admin = token_for(client, app_community, people["admin"])
    staff = token_for(client, app_community, people["staff"])
    member = token_for(client, app_community, people["member"])
    entry_id = client.get("/api/v1/ledger", headers=auditor).json["items"][0]["id"]
    assert client.get(f"/api/v1/ledger/{entry_id}/proof", headers=auditor).status_code == 409
    assert client.post("/api/v1/audit/epochs", headers=staff).status_code == 403
    closed = client.post("/api/v1/audit/epochs", headers=admin)
    assert closed.status_code == 201 and closed.json["entry_count"] == 3
    assert client.get(f"/api/v1/ledger/{entry_id}/proof", headers=auditor).status_code == 409
    drain(chain_app["relay"])
    proof = client.get(f"/api/v1/ledger/{entry_id}/proof", headers=auditor).json
    assert {"epoch", "index", "tree_size", "leaf", "proof", "root"} <= set(proof)
    assert proof["tree_size"] == 3 and proof["epoch"] == closed.json["epoch"]
    assert client.get("/api/v1/ledger/999999/proof", headers=auditor).status_code == 404
    meta = client.get("/api/v1/meta").json
    assert meta["contracts"]["KopaLedgerAnchor"] == proof["contract"]
    assert client.get("/api/v1/audit/reconciliation", headers=member).status_code == 403
    report = client.get("/api/v1/audit/reconciliation", headers=auditor).json
    assert report["ok"] and {"ok", "holders", "mismatches", "total_supply", "ledger_total"} <= set(report)
    assert report["total_supply"] == report["ledger_total"] == 120


def test_export_signature_and_log(chain_app, client, app_community, auth):
    people = chain_app["people"]
    db = chain_app["db"]
    auditor = token_for(client, app_community, people["auditor"])
    member = token_for(client, app_community, people["member"])
    assert client.get("/api/v1/audit/export", headers=member).status_code == 403
    assert client.get("/api/v1/audit/export?from=yesterday", headers=auditor).status_code == 400
    export = client.get("/api/v1/audit/export?from=2000-01-01", headers=auditor).json
    signer = Account.recover_message(encode_defunct(text=export["manifest"]), signature=export["signature"])
    with db.read_sessions() as session:
        from rewards.chain.platform import minter_account

        assert signer == export["signer"] == minter_account(session, app_community.vault).address
        logged = session.scalars(select(AuditLogRow).where(AuditLogRow.action == "ledger.export")).all()
        assert verify_audit_log(session) == []
    manifest = json.loads(export["manifest"])
    assert manifest["entry_count"] == 3 and len(logged) == 1 and logged[0].actor_id == people["auditor"]
    assert json.loads(logged[0].detail)["files"] == manifest["files"]
    rows = json.loads(export["files"]["ledger.json"])
    assert all("@" not in json.dumps(r) for r in rows)
    # The portal's zip carries the same four files.
    auth.login(app_community.email_of(people["auditor"]))
    response = client.post("/audit/exports", data={"csrf_token": auth.csrf("/audit/exports"), "from": ""})
    assert response.status_code == 200 and response.mimetype == "application/zip"
    names = set(zipfile.ZipFile(io.BytesIO(response.data)).namelist())
    assert names == {"ledger.csv", "ledger.json", "manifest.json", "manifest.sig"}


def test_audit_pages_for_auditors_only(chain_app, client, app_community, auth):
    people = chain_app["people"]
    auth.login(app_community.email_of(people["member"]))
    assert client.get("/audit/").status_code == 403
    client.get("/logout")
    auth.login(app_community.email_of(people["auditor"]))
    ledger = client.get("/audit/")
    assert ledger.status_code == 200 and "Ledger explorer" in ledger.get_data(as_text=True)
    assert "must be a date" in client.get("/audit/?from=nope").get_data(as_text=True)
    recon = client.get("/audit/reconciliation").get_data(as_text=True)
    assert "Ledger and chain agree" in recon
    with chain_app["db"].read_sessions() as session:
        tx_hash = session.scalars(select(OutboxItem.tx_hash).where(
            OutboxItem.kind == "mint")).first()
    carried = client.get(f"/audit/?tx={tx_hash}").get_data(as_text=True)
    assert f"Entries carried by transaction <code>{tx_hash}</code>" in carried
    assert "No entries match" not in carried
    validators = client.get("/audit/validators").get_data(as_text=True)
    assert f"#{people['staff']}" in validators
    for page in ("/audit/epochs", "/audit/log", "/audit/exports"):
        assert client.get(page).status_code == 200

    with chain_app["db"].read_sessions() as session:
        entry_id = session.scalars(select(LedgerEntry.id)).first()
    tamper_points(chain_app["db"], entry_id, 999)
    recon = client.get("/audit/reconciliation").get_data(as_text=True)
    assert "mismatch(es) found" in recon and f"before={entry_id + 1}" in recon


def test_validator_statistics_flag_team_mates(db, community):
    from community.processes import teamwork

    staff = community.user(Role.STAFF)
    mate = community.user()
    stranger = community.user()
    team = teamwork.create_team(db.unit_of_work(), actor_id=staff, name="Courtyard crew", kind="citizens")
    teamwork.add_team_member(db.unit_of_work(), actor_id=staff, team_id=team, email=community.email_of(mate))
    for _ in range(3):
        community.approved(mate, staff, community.task(staff, complexity=20))
    community.approved(stranger, staff, community.task(staff, complexity=20))
    with db.read_sessions() as session:
        [stats] = validator_stats(session, session.get(User, staff))
    assert stats["approvals"] == 4 and stats["approval_rate"] == 1.0
    assert stats["median_seconds_to_validate"] is not None and stats["self_dealing"]
    assert stats["team_mate_approvals"] == [{"member_id": mate, "approvals": 3, "flagged": True}]



def test_erasure_api_is_for_admins(chain_app, client, app_community):
    people = chain_app["people"]
    staff = token_for(client, app_community, people["staff"])
    admin = token_for(client, app_community, people["admin"])
    email = app_community.email_of(people["other"])
    assert client.post(f"/api/v1/users/{people['other']}/erase", headers=staff).status_code == 403
    assert client.post("/api/v1/users/999999/erase", headers=admin).status_code == 404
    assert client.post(f"/api/v1/users/{people['other']}/erase", headers=admin).json["erased"] is True
    assert client.post(f"/api/v1/users/{people['other']}/erase", headers=admin).status_code == 409
    assert app_community.email_of(people["other"]) != email
    auditor = token_for(client, app_community, people["auditor"])
    assert client.get("/api/v1/audit/reconciliation", headers=auditor).json["ok"]


def test_validator_statistics_count_four_eyes_overrides(db, community):
    from community import contributions
    from community.models import Task
    from community.processes import building, permissions

    first, second, member = community.user(Role.STAFF), community.user(Role.STAFF), community.user()
    task = community.task(first, complexity=40)
    with db.read_sessions() as session:
        process_id = session.get(Task, task).process_id
    building.update_process_settings(db.unit_of_work(), actor_id=first, process_id=process_id,
                                     four_eyes_threshold=10)
    permissions.grant_permission(db.unit_of_work(), actor_id=first, process_id=process_id,
                                 permission_name="manage", user_email=community.email_of(second))
    cid = contributions.submit_contribution(db.unit_of_work(), member_id=member, task_id=task, text="did it")
    assert contributions.approve_contribution(db.unit_of_work(), validator_id=first, contribution_id=cid,
                                              level="low") == []
    contributions.reject_contribution(db.unit_of_work(), validator_id=second, contribution_id=cid,
                                      comment="the photo shows another courtyard")
    with db.read_sessions() as session:
        stats = {s["validator_id"]: s for s in validator_stats(session, session.get(User, first))}
    assert stats[first]["first_approvals"] == 1 and stats[first]["overrides_received"] == 1
    assert stats[second]["rejections"] == 1 and stats[second]["overrides_made"] == 1
    assert stats[second]["approval_rate"] == 0.0 and stats[first]["approval_rate"] == 1.0
