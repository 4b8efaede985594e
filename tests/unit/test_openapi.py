"""schemas/openapi.yaml is a valid OpenAPI 3.1 document that documents every route the app has."""

from __future__ import annotations

from openapi_spec_validator import validate
from openapi_spec_validator.readers import read_from_filename

from gateway.app import create_app
from gateway.settings import CryptoSettings, Settings
from tests.conftest import ROOT, TEST_KEYS

SPEC_PATH = ROOT / "schemas" / "openapi.yaml"


def test_openapi_document_is_valid() -> None:
    spec, base_uri = read_from_filename(str(SPEC_PATH))
    validate(spec, base_uri=base_uri)


def test_every_route_is_documented_and_nothing_else() -> None:
    spec, _ = read_from_filename(str(SPEC_PATH))
    app = create_app(Settings(crypto=CryptoSettings(keys=TEST_KEYS)))
    routes = {
        (route.method.lower(), route.resource.canonical)
        for route in app.router.routes()
        if route.method != "HEAD" and not route.resource.canonical.startswith("/simulator")
    }
    documented = {
        (method, path)
        for path, item in spec["paths"].items()
        for method in item
        if method != "parameters"
    }
    assert routes == documented


def test_statuses_match_the_state_machine() -> None:
    from gateway.storage.lifecycle import ClaimStatus

    spec, _ = read_from_filename(str(SPEC_PATH))
    assert spec["components"]["schemas"]["ClaimStatus"]["enum"] == [s.value for s in ClaimStatus]


def test_paged_listings_document_the_shared_page_parameters() -> None:
    from gateway.api import listing

    spec, _ = read_from_filename(str(SPEC_PATH))
    limit = spec["components"]["parameters"]["Limit"]["schema"]
    assert (limit["default"], limit["maximum"]) == (listing.DEFAULT_PAGE, listing.MAX_PAGE)
    for path in ("/v1/claims", "/v1/files", "/v1/interchanges"):
        operation = spec["paths"][path]["get"]
        refs = {p.get("$ref") for p in operation["parameters"]}
        assert {"#/components/parameters/Limit", "#/components/parameters/Cursor"} <= refs, path
        page = operation["responses"]["200"]["content"]["application/json"]["schema"]
        assert page["required"] == ["items", "next_cursor"], path
