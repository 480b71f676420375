"""Every collections route is documented: a summary, its answer's model, and each error it gives."""

from typing import Any

from services.collections.main import create_app
from services.collections.settings import CollectionsSettings

ROUTES = {
    "/collections/groups/{group_id}/rotation": {"401", "404", "422", "503"},
    "/collections/groups/{group_id}/cycles/{cycle_number}": {"401", "404", "422", "503"},
    "/collections/groups/{group_id}/ledger": {"401", "404", "422", "503"},
    "/collections/members/me/contributions": {"401", "422", "503"},
    "/collections/operator/stuck-cycles": {"401", "422", "503"},
    "/collections/groups/{group_id}/members/me/debt": {"401", "404", "422", "503"},
    "/collections/members/me/debts": {"401", "422", "503"},
    "/collections/operator/reconciliations": {"401", "422", "503"},
    "/collections/operator/reconciliations/{run_id}": {"401", "404", "422", "503"},
}
DECISIONS = {
    "/collections/groups/{group_id}/decisions": {"401", "403", "404", "409", "422", "503"},
    "/collections/groups/{group_id}/members/{member_id}/write-off": {
        "401",
        "403",
        "404",
        "409",
        "422",
        "503",
    },
    # 202: a debit was started; 200: a retried request, or the debit already under way.
    "/collections/groups/{group_id}/members/me/debt/payments": {"401", "404", "409", "422", "503"},
}
ANSWERS = ("200", "202")


def openapi() -> dict[str, Any]:
    settings = CollectionsSettings.model_validate(
        {"database_url": "postgresql://nobody@127.0.0.1:1/none", "stripe_api_key": "sk_test_x"}
    )
    document: dict[str, Any] = create_app(settings).openapi()
    return document


def test_every_route_has_a_summary_an_answer_model_and_its_errors_in_the_one_body() -> None:
    paths = openapi()["paths"]
    routes = {
        path: item for path, item in paths.items() if not path.endswith(("healthz", "readyz", "metrics"))
    }
    assert set(routes) == set(ROUTES) | set(DECISIONS)
    for path, item in routes.items():
        (method,) = item
        operation = item[method]
        assert method == ("post" if path in DECISIONS else "get")
        assert operation["summary"], path
        for answer in set(operation["responses"]) & set(ANSWERS):
            assert "$ref" in operation["responses"][answer]["content"]["application/json"]["schema"], path
        assert "200" in operation["responses"], path
        errors = set(operation["responses"]) - set(ANSWERS)
        assert errors == {**ROUTES, **DECISIONS}[path], path
        for status in errors:
            schema = operation["responses"][status]["content"]["application/json"]["schema"]
            assert schema["$ref"].endswith("/ErrorBody"), (path, status)
