"""Loyalty pages and API through the Flask test client: roles, CSRF, forms, error shapes."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from community.models import Role
from rewards import badges, catalogue, loyalty
from rewards.models import Badge, CatalogueItem, Redemption, TierRow
from tests.support.community import PASSWORD
from tests.support.loyalty import Chain, fund
from tests.support.web import AuthActions
from web.loyalty.api import OPENAPI_PATHS

pytestmark = pytest.mark.chain


@pytest.fixture
def db(app):
    return app.extensions["kopa.db"]


@pytest.fixture
def shop(app, db, app_community, anvil):
    """Accounts, tiers, a badge, items, and a member with 40 confirmed credits."""
    c = app_community
    people = {"admin": c.user(Role.ADMIN), "staff": c.user(Role.STAFF), "member": c.user(), "poor": c.user()}
    chain = Chain(db, app.extensions["kopa.vault"], anvil.url)
    for name, points, rank, discount in [("Bronze", 0, 1, 0), ("Silver", 40, 2, 50)]:
        loyalty.save_tier(db.unit_of_work(), actor_id=people["admin"], name=name, min_points=points,
                          rank=rank, discount_percent=discount)
    badges.save_badge(db.unit_of_work(), actor_id=people["admin"], name="First contribution",
                      metric="approved_contributions", thresholds=[1])
    fund(c, chain, [people["member"]], 40, people["staff"])
    with db.write_sessions() as session, session.begin():
        badges.award_badges(session, people["member"])
    staff = people["staff"]
    people["coffee"] = catalogue.save_item(db.unit_of_work(), actor_id=staff, name="Coffee voucher", price=2,
                                           stock=3, per_member_limit=2)
    people["hour"] = catalogue.save_item(db.unit_of_work(), actor_id=staff, name="Makerspace hour", price=20)
    people["chain"] = chain
    return people


def login(app, app_community, user_id):
    client = app.test_client()
    AuthActions(client).login(app_community.email_of(user_id))
    return client, AuthActions(client)


def token(client, app_community, user_id) -> dict:
    response = client.post("/api/v1/auth/token", json={"email": app_community.email_of(user_id),
                                                       "password": PASSWORD})
    assert response.status_code == 200
    return {"Authorization": f"Bearer {response.json['token']}"}


def state_of(db, redemption_id: int) -> str:
    with db.read_sessions() as session:
        return session.get(Redemption, redemption_id).state


# --- pages -------------------------------------------------------------------------------


def test_catalogue_page_redeem_cancel_and_wallet(app, db, app_community, shop, client):
    anonymous = client.get("/catalogue").get_data(as_text=True)
    assert "Coffee voucher" in anonymous and "Log in</a> to redeem" in anonymous
    member, auth = login(app, app_community, shop["member"])
    page = member.get("/catalogue").get_data(as_text=True)
    assert "Redeem for 1 credits" in page, "Silver: 50% off 2 credits, rounded up"
    assert "Redeem for 10 credits" in page and "<s class=\"muted\">20</s>" in page
    token_ = auth.csrf("/catalogue")
    assert member.post(f"/catalogue/{shop['hour']}/redeem").status_code == 400, "no CSRF token"
    response = member.post(f"/catalogue/{shop['hour']}/redeem", data={"csrf_token": token_})
    assert response.status_code == 302 and response.headers["Location"].endswith("/redemptions")
    mine = member.get("/redemptions").get_data(as_text=True)
    assert "Makerspace hour" in mine and "requested" in mine
    with db.read_sessions() as session:
        redemption = session.scalars(select(Redemption)).one()
        assert redemption.price == 10
    wallet = member.get("/wallet").get_data(as_text=True)
    assert re.search(r"Pending burn</dt><dd[^>]*>10<", wallet)
    assert "Silver" in wallet and "First contribution" in wallet and "The highest tier" in wallet
    assert "Makerspace hour: 10 credits, requested" in wallet

    response = member.post(f"/redemptions/{redemption.id}/cancel", data={"csrf_token": token_},
                           follow_redirects=True)
    assert "cancelled; the credits come back" in response.get_data(as_text=True)
    assert state_of(db, redemption.id) == "cancelled"

    for _ in range(3):  # 40 credits, 10 spent and refunded (pending): 30 left, three hours
        member.post(f"/catalogue/{shop['hour']}/redeem", data={"csrf_token": token_})
    refused = member.post(f"/catalogue/{shop['hour']}/redeem", data={"csrf_token": token_},
                          follow_redirects=True).get_data(as_text=True)
    assert "this costs 10 credits but you have 0 available" in refused


def test_staff_queue_fulfils_and_cancels(app, db, app_community, shop):
    redemption = catalogue.redeem_item(db.unit_of_work(), member_id=shop["member"], item_id=shop["coffee"])
    member, member_auth = login(app, app_community, shop["member"])
    assert member.get("/staff/redemptions").status_code == 403
    staff, auth = login(app, app_community, shop["staff"])
    page = staff.get("/staff/redemptions").get_data(as_text=True)
    assert f"redemption-{redemption.id}" in page and "Coffee voucher" in page
    csrf = auth.csrf("/staff/redemptions")
    response = staff.post(f"/staff/redemptions/{redemption.id}/fulfil",
                          data={"csrf_token": csrf, "note": "ok"}, follow_redirects=True)
    assert f"Redemption {redemption.id} fulfilled" in response.get_data(as_text=True)
    assert state_of(db, redemption.id) == "fulfilled"
    again = staff.post(f"/staff/redemptions/{redemption.id}/cancel", data={"csrf_token": csrf},
                       follow_redirects=True)
    assert "is fulfilled, not requested" in again.get_data(as_text=True)
    forged = member.post(f"/staff/redemptions/{redemption.id}/cancel",
                         data={"csrf_token": member_auth.csrf("/catalogue")})
    assert forged.status_code == 403
    assert state_of(db, redemption.id) == "fulfilled"


def test_staff_edit_the_catalogue(app, db, app_community, shop):
    member, _ = login(app, app_community, shop["member"])
    assert member.get("/staff/catalogue").status_code == 403
    staff, auth = login(app, app_community, shop["staff"])
    csrf = auth.csrf("/staff/catalogue")
    bad = staff.post("/staff/catalogue", data={"csrf_token": csrf, "name": "Pass", "price": "0"})
    assert bad.status_code == 400 and "Number must be" in bad.get_data(as_text=True)
    window = staff.post("/staff/catalogue", data={
        "csrf_token": csrf, "name": "Pass", "price": "5", "valid_from": "2026-12-02T10:00",
        "valid_until": "2026-12-01T10:00"})
    assert window.status_code == 400 and "later than valid_from" in window.get_data(as_text=True)
    created = staff.post("/staff/catalogue", data={
        "csrf_token": csrf, "name": "Bike repair", "price": "7", "stock": "4", "per_member_limit": "1",
        "image_url": "https://example.org/bike.png", "active": "y"})
    assert created.status_code == 302
    with db.read_sessions() as session:
        item = session.scalars(select(CatalogueItem).where(CatalogueItem.name == "Bike repair")).one()
        assert (item.price, item.stock, item.per_member_limit, item.active) == (7, 4, 1, True)
    edit = staff.post(f"/staff/catalogue/{item.id}", data={"csrf_token": csrf, "name": "Bike repair",
                                                           "price": "8", "stock": ""})
    assert edit.status_code == 302
    with db.read_sessions() as session:
        item = session.get(CatalogueItem, item.id)
        # empty stock: unlimited; unchecked box: withdrawn
        assert (item.price, item.stock, item.active) == (8, None, False)
    assert "Bike repair" not in member.get("/catalogue").get_data(as_text=True)
    assert staff.get("/staff/catalogue/999999").status_code == 404


def test_admin_pages_for_badges_and_tiers(app, db, app_community, shop):
    staff, _ = login(app, app_community, shop["staff"])
    assert staff.get("/admin/badges").status_code == 403 and staff.get("/admin/tiers").status_code == 403
    admin, auth = login(app, app_community, shop["admin"])
    csrf = auth.csrf("/admin/badges")
    bad = admin.post("/admin/badges", data={"csrf_token": csrf, "name": "Co-creator",
                                            "metric": "approved_contributions", "thresholds": "15, 5"})
    assert bad.status_code == 400 and "thresholds must rise" in bad.get_data(as_text=True)
    good = admin.post("/admin/badges", data={"csrf_token": csrf, "name": "Co-creator",
                                             "metric": "approved_contributions", "thresholds": "5, 15, 40",
                                             "active": "y"})
    assert good.status_code == 302
    page = admin.get("/admin/badges").get_data(as_text=True)
    assert "Co-creator III: 40" in page and "First contribution" in page and "milestone" in page
    with db.read_sessions() as session:
        badge_id = session.scalars(select(Badge.id).where(Badge.name == "Co-creator")).one()
    form = admin.get(f"/admin/badges/{badge_id}").get_data(as_text=True)
    assert 'value="5, 15, 40"' in form

    tiers = admin.get("/admin/tiers").get_data(as_text=True)
    assert "Bronze" in tiers and "Silver" in tiers
    clash = admin.post("/admin/tiers", data={"csrf_token": csrf, "name": "Gold", "min_points": "40",
                                             "rank": "3", "discount_percent": "10"})
    assert clash.status_code == 400 and "already starts at 40 points" in clash.get_data(as_text=True)
    assert admin.post("/admin/tiers", data={"csrf_token": csrf, "name": "Gold", "min_points": "300",
                                            "rank": "3", "discount_percent": "10"}).status_code == 302
    with db.read_sessions() as session:
        gold = session.scalars(select(TierRow).where(TierRow.name == "Gold")).one()
    assert admin.post(f"/admin/tiers/{gold.id}/delete", data={"csrf_token": csrf}).status_code == 302
    with db.read_sessions() as session:
        assert [t.name for t in loyalty.all_tiers(session)] == ["Bronze", "Silver"]


# --- API ---------------------------------------------------------------------------------


def test_api_catalogue_redemptions_and_errors(app, db, app_community, shop, client):
    assert client.get("/api/v1/catalogue").status_code == 401
    member = token(client, app_community, shop["member"])
    poor = token(client, app_community, shop["poor"])
    staff = token(client, app_community, shop["staff"])
    items = client.get("/api/v1/catalogue", headers=member).json
    coffee = next(i for i in items if i["id"] == shop["coffee"])
    hour = next(i for i in items if i["id"] == shop["hour"])
    assert {"id", "name", "price", "stock", "per_member_limit"} <= set(coffee)
    assert (coffee["price"], coffee["price_for_you"]) == (2, 1)
    assert (coffee["stock"], coffee["per_member_limit"]) == (3, 2)
    assert hour["stock"] is None and hour["per_member_limit"] is None

    url = f"/api/v1/catalogue/{shop['coffee']}/redemptions"
    first = client.post(url, headers=member)
    assert first.status_code == 201 and first.json["state"] == "requested" and first.json["price"] == 1
    assert client.post(url, headers=member).status_code == 201
    limit = client.post(url, headers=member)
    assert limit.status_code == 409 and limit.json["error"] == "limit_reached" and limit.json["message"]
    broke = client.post(url, headers=poor)
    assert broke.status_code == 409 and broke.json["error"] == "insufficient_credits"
    assert client.post("/api/v1/catalogue/999999/redemptions", headers=member).status_code == 404
    assert client.post(url, headers=member, data="[1]", content_type="application/json").status_code == 400

    mine = client.get("/api/v1/me/redemptions", headers=member).json
    assert [r["state"] for r in mine] == ["requested", "requested"] and mine[0]["price"] == 1
    assert client.get("/api/v1/redemptions", headers=member).status_code == 403
    queue = client.get("/api/v1/redemptions", headers=staff).json
    assert {r["id"] for r in queue} == {r["id"] for r in mine}
    assert client.get("/api/v1/redemptions?state=lost", headers=staff).status_code == 400

    assert client.post(f"/api/v1/redemptions/{mine[0]['id']}/fulfil", headers=member).status_code == 403
    assert client.post(f"/api/v1/redemptions/{mine[0]['id']}/cancel", headers=poor).status_code == 403
    done = client.post(f"/api/v1/redemptions/{mine[0]['id']}/fulfil", headers=staff, json={"note": "handed"})
    assert done.status_code == 200 and done.json == {"id": mine[0]["id"], "state": "fulfilled"}
    cancelled = client.post(f"/api/v1/redemptions/{mine[1]['id']}/cancel", headers=member)
    assert cancelled.json["state"] == "cancelled"
    wrong = client.post(f"/api/v1/redemptions/{mine[1]['id']}/fulfil", headers=staff)
    assert wrong.status_code == 409 and wrong.json["error"] == "wrong_state"

    # Out of stock: one was cancelled (back in stock), so 3 - 1 = 2 left; two other members take them.
    others = [app_community.user() for _ in range(3)]
    fund(app_community, shop["chain"], others, 20, shop["staff"])
    codes = [client.post(url, headers=token(client, app_community, o)).status_code for o in others]
    assert codes == [201, 201, 409]
    last = client.post(url, headers=token(client, app_community, others[2])).json
    assert last["error"] == "out_of_stock"


def test_api_badges_and_tier(app, db, app_community, shop, client):
    member = token(client, app_community, shop["member"])
    badges.save_badge(db.unit_of_work(), actor_id=shop["admin"], name="Forty", metric="points",
                      thresholds=[40])
    with db.write_sessions() as session, session.begin():
        badges.award_badges(session, shop["member"])
    first, forty = client.get("/api/v1/me/badges", headers=member).json
    assert first["name"] == "First contribution" and first["level"] == 1
    assert forty["name"] == "Forty" and forty["minted"] is False and forty["tx_hash"] is None
    shop["chain"].drain()
    for badge in client.get("/api/v1/me/badges", headers=member).json:
        assert badge["minted"] is True and re.fullmatch(r"0x[0-9a-f]{64}", badge["tx_hash"])
    tier = client.get("/api/v1/me/tier", headers=member).json
    assert tier["points"] == 40 and tier["tier"]["name"] == "Silver" and tier["next_tier"] is None
    poor = client.get("/api/v1/me/tier", headers=token(client, app_community, shop["poor"])).json
    assert poor["tier"]["name"] == "Bronze" and poor["points_to_next"] == 40 and poor["percent"] == 0


def test_openapi_paths_cover_every_api_route(app, client):
    routes = {
        re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule)
        for rule in app.url_map.iter_rules() if rule.endpoint.startswith("loyalty_api.")
    }
    assert routes == set(OPENAPI_PATHS)
    for item in OPENAPI_PATHS.values():
        for operation in item.values():
            assert operation["responses"] and operation["summary"]
    served = client.get("/api/v1/openapi.json").json["paths"]
    assert served["/api/v1/catalogue/{item_id}/redemptions"]["post"]["responses"]["409"]
