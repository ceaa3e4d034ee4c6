"""The floor under every scenario: an authenticated API request that reads almost nothing
(token check, the user, their scope) — what the framework costs per request on this machine."""

from bench.registry import get, scenario


@scenario("api.me", "floor: GET /api/v1/me/ (auth + user + scope)", user="department")
def me(ctx, i):
    return get("/api/v1/me/")
