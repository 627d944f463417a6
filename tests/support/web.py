"""Signing in through the Flask test client: the login form with its CSRF token, and API
bearer tokens."""

from __future__ import annotations

from tests.support.community import PASSWORD


class AuthActions:
    def __init__(self, client) -> None:
        self._client = client

    def login(self, email: str, password: str = PASSWORD):
        page = self._client.get("/login")
        token = csrf_token(page.get_data(as_text=True))
        return self._client.post("/login", data={"email": email, "password": password, "csrf_token": token})

    def csrf(self, path: str) -> str:
        return csrf_token(self._client.get(path).get_data(as_text=True))


def csrf_token(html: str) -> str:
    marker = 'name="csrf_token" type="hidden" value="'
    start = html.index(marker) + len(marker)
    return html[start : html.index('"', start)]


def token_for(client, app_community, user_id) -> dict:
    email = app_community.email_of(user_id)
    response = client.post("/api/v1/auth/token", json={"email": email, "password": PASSWORD})
    assert response.status_code == 200, response.json
    return {"Authorization": f"Bearer {response.json['token']}"}
