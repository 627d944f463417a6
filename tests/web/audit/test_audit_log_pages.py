"""The hash-chained audit log through the Flask app (#7): admin actions over the API and the
portal are logged with their actor, and `kopa verify-audit-log` finds an altered or deleted row."""

from __future__ import annotations

import pytest
from sqlalchemy import select, text

from community.models import Role, User
from rewards.audit.actions import audit_log_page, verify_audit_log
from rewards.models import AuditLogRow
from tests.support.web import token_for

pytestmark = pytest.mark.chain


def test_admin_actions_are_logged_and_the_cli_finds_a_broken_chain(app, client, app_community, anvil):
    db = app.extensions["kopa.db"]
    staff, member = app_community.user(Role.STAFF), app_community.user()
    admin = app_community.user(Role.ADMIN)
    task = app_community.task(staff, complexity=20)
    headers = token_for(client, app_community, member)
    cid = client.post(f"/api/v1/tasks/{task}/contributions", json={"text": "t"}, headers=headers).json["id"]
    staff_headers = token_for(client, app_community, staff)
    approved = client.post(f"/api/v1/contributions/{cid}/approve", json={}, headers=staff_headers)
    assert approved.status_code == 200
    # A refused action (a member trying to approve) is not an action taken: not logged.
    assert client.post(f"/api/v1/contributions/{cid}/approve", json={}, headers=headers).status_code == 403
    admin_headers = token_for(client, app_community, admin)
    assert client.post("/api/v1/audit/epochs", headers=admin_headers).status_code == 201
    with db.read_sessions() as session:
        assert verify_audit_log(session) == []
        actions = [r["action"] for r in audit_log_page(session, session.get(User, admin))][::-1]
    assert actions == ["POST /api/v1/contributions/<int:contribution_id>/approve", "epoch.close"]
    runner = app.test_cli_runner()
    ok = runner.invoke(args=["kopa", "verify-audit-log"])
    assert ok.exit_code == 0 and "intact" in ok.output
    with db.engine.begin() as conn:
        conn.execute(text("UPDATE audit_log SET subject = 'nothing happened' WHERE seq = 1"))
    broken = runner.invoke(args=["kopa", "verify-audit-log"])
    assert broken.exit_code == 1 and "altered" in broken.output
    with db.engine.begin() as conn:  # hide the evidence: drop the altered row instead
        conn.execute(text("DELETE FROM audit_log WHERE seq = 1"))
    deleted = runner.invoke(args=["kopa", "verify-audit-log"])
    assert deleted.exit_code == 1 and "sequence 2 where 1 was expected" in deleted.output


def test_a_role_change_in_the_portal_is_logged_with_its_admin(app, client, auth, app_community):
    db = app.extensions["kopa.db"]
    admin, member = app_community.user(Role.ADMIN), app_community.user()
    auth.login(app_community.email_of(admin))
    response = client.post(f"/admin/users/{member}/role",
                           data={"role": "auditor", "csrf_token": auth.csrf("/admin/users")})
    assert response.status_code == 302
    with db.read_sessions() as session:
        [row] = session.scalars(select(AuditLogRow)).all()
        assert verify_audit_log(session) == []
    assert (row.actor_id, row.actor_role) == (admin, "admin")
    assert row.action == "POST /admin/users/<int:user_id>/role"
    assert row.subject == f"/admin/users/{member}/role" and "auditor" not in row.detail  # no form bodies
