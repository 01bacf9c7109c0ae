"""Open311 GeoReport v2 to the specification, driven by a third-party client from PyPI
(`georeport` 0.3.1, "Python wrapper for the Open311 GeoReport v2 API": GET services, a service
definition, GET requests with the spec's filters and GET one request, in JSON and in XML)
against a real server on loopback. The client makes no POST and knows no tokens: those go
over plain HTTP, in both formats, as the spec writes them (attribute[code], api_key,
jurisdiction_id, address_string). Errors in the spec's shape: [{"code", "description"}] and
<errors><error><code/><description/></error></errors>, with the code's HTTP status."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import requests
import xmltodict

from command_center.config import parse_config
from command_center.runtime import Runtime
from dispatch.city import City
from tests.helpers import ServerThread, build_runtime, serve_app

GeoReport = pytest.importorskip("georeport").GeoReport
KEY = "k-test-311"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, small_city: City) -> Iterator[tuple[ServerThread, Runtime]]:
    data = tmp_path_factory.mktemp("open311-spec")
    config = parse_config({
        "server": {"data_dir": str(data)}, "store": f"sqlite:///{data / 'cc.db'}",
        "citizen": {"reports_per_minute": 600, "burst": 100},
        "report_media": {"open311_api_keys": [KEY], "open311_jurisdiction": "cc.example"},
    })  # fmt: skip
    rt = build_runtime(config, city=small_city)
    with serve_app(rt) as srv:
        yield srv, rt


def client(srv: ServerThread, fmt: str = "json", jurisdiction: str | None = "cc.example") -> Any:
    return GeoReport(f"{srv.url}/open311/v2", jurisdiction=jurisdiction, api_key=KEY, output_format=fmt)


def post(srv: ServerThread, fmt: str, **form: str) -> httpx.Response:
    return httpx.post(f"{srv.url}/open311/v2/requests.{fmt}", data=form, timeout=10)


def report_form(city: City, i: int, **extra: str) -> dict[str, str]:
    grid = city.grids[i]
    return {"jurisdiction_id": "cc.example", "api_key": KEY, "service_code": "0101", "lat": str(grid.lat),
            "long": str(grid.lon), "description": "路边垃圾桶满溢", **extra}  # fmt: skip


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_services_and_definitions_through_the_client(server, fmt: str) -> None:  # noqa: ANN001
    srv, rt = server
    services = client(srv, fmt).get_service_list()
    assert len(services) == len(rt.catalog.items)
    first = services[0]
    assert {"service_code", "service_name", "description", "metadata", "type", "keywords", "group"} <= set(first)
    with_metadata = [s for s in services if s["metadata"] in (True, "true")]
    without = [s for s in services if s["metadata"] in (False, "false")]
    assert with_metadata and without
    definition = client(srv, fmt).get_service_definition(with_metadata[0]["service_code"])
    assert definition["service_code"] == with_metadata[0]["service_code"]
    attributes = definition["attributes"] if fmt == "json" else definition["attributes"]["attribute"]
    assert {"variable", "code", "datatype", "required", "datatype_description", "order", "description"} <= set(attributes[0])
    values = attributes[0]["values"] if fmt == "json" else attributes[0]["values"]["value"]
    assert values[0]["key"] == "yes" and values[0]["name"] == "是"
    with pytest.raises(requests.HTTPError) as refused:
        client(srv, fmt).get_service_definition(without[0]["service_code"])
    assert refused.value.response.status_code == 404


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_a_request_posted_with_attributes_is_read_back_and_filtered(server, small_city: City, fmt: str) -> None:  # noqa: ANN001
    srv, rt = server
    made = post(srv, fmt, **report_form(small_city, 50 if fmt == "json" else 51, **{"attribute[hazard]": "yes",
                                        "attribute[landmark]": "3号楼东侧"}))  # fmt: skip
    assert made.status_code == 201, made.text
    if fmt == "json":
        (answer,) = made.json()
    else:
        assert made.headers["content-type"].startswith("text/xml") and made.text.startswith("<?xml")
        answer = xmltodict.parse(made.content)["service_requests"]["request"]
    request_id, token = answer["service_request_id"], answer["token"]
    assert answer["service_notice"].startswith("received")
    case = rt.store.get_case(rt.store.get_report(request_id)["case_id"])
    assert "安全隐患：是" in case.description and "3号楼东侧" in case.description
    one = client(srv, fmt).get_service_request(request_id)
    assert one["service_request_id"] == request_id and one["status"] == "open" and one["service_code"] == "0101"
    assert one["address"] == small_city.grids[50 if fmt == "json" else 51].name
    # the filters: ids override the rest; a code, a window, a status narrow the latest 90 days
    geo = client(srv, fmt)
    listed = geo.get_service_requests(service_request_id=request_id)
    listed = listed if isinstance(listed, list) else [listed]  # xmltodict: one element is no list
    assert [r["service_request_id"] for r in listed] == [request_id]
    now = datetime.now(UTC)
    window = {"start_date": (now - timedelta(minutes=5)).isoformat().replace("+00:00", "Z"),
              "end_date": (now + timedelta(minutes=5)).isoformat().replace("+00:00", "Z")}  # fmt: skip
    found = geo.get_service_requests(service_code="0101", status="open", **window)
    found = found if isinstance(found, list) else [found]
    assert request_id in [r["service_request_id"] for r in found]
    assert all(r["service_code"] == "0101" and r["status"] == "open" for r in found)
    none = httpx.get(f"{srv.url}/open311/v2/requests.json", params={"status": "closed", **window}).json()
    assert request_id not in [r["service_request_id"] for r in none]
    before = httpx.get(f"{srv.url}/open311/v2/requests.json", params={"end_date": "2020-01-01T00:00:00Z"}).json()
    assert before == []
    # the token resource: the POST's token names the request
    tokens = httpx.get(f"{srv.url}/open311/v2/tokens/{token}.{fmt}")
    assert tokens.status_code == 200 and request_id in tokens.text


def test_an_address_string_instead_of_a_point(server, small_city: City) -> None:  # noqa: ANN001
    srv, rt = server
    grid = small_city.grids[52]
    form = {k: v for k, v in report_form(small_city, 52).items() if k not in ("lat", "long")}
    made = post(srv, "json", **form, address_string=f"{grid.name}东门")
    assert made.status_code == 201, made.text
    case = rt.store.get_case(rt.store.get_report(made.json()[0]["service_request_id"])["case_id"])
    assert case.grid_code == grid.code


def spec_error(response: httpx.Response | requests.Response, fmt: str) -> tuple[int, str]:
    """(code, description) of the spec's error body, checked to be its shape."""
    if fmt == "json":
        (error,) = response.json()
        assert set(error) == {"code", "description"}
        return int(error["code"]), str(error["description"])
    assert response.headers["content-type"].startswith("text/xml")
    error = xmltodict.parse(response.content)["errors"]["error"]
    return int(error["code"]), str(error["description"])


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_errors_in_the_spec_shape(server, small_city: City, fmt: str) -> None:  # noqa: ANN001
    srv, _ = server
    with pytest.raises(requests.HTTPError) as unknown:
        client(srv, fmt, jurisdiction="elsewhere.example").get_service_list()
    assert unknown.value.response.status_code == 404
    assert spec_error(unknown.value.response, fmt) == (404, "jurisdiction_id not found: elsewhere.example")
    cases = [
        (report_form(small_city, 53, api_key="wrong"), 403, "invalid api_key"),
        (report_form(small_city, 53, service_code="nope"), 400, "unknown service_code"),
        (report_form(small_city, 53, service_code=_emergency(srv)), 400, "attribute[injured] is required"),
        (report_form(small_city, 53, **{"attribute[hazard]": "maybe"}), 400, "attribute[hazard] must be one of"),
        (report_form(small_city, 53, jurisdiction_id="elsewhere"), 404, "jurisdiction_id not found"),
        ({k: v for k, v in report_form(small_city, 53).items() if k not in ("lat", "long")}, 400, "address_string"),
    ]
    for form, status, words in cases:
        answer = post(srv, fmt, **form)
        code, description = spec_error(answer, fmt)
        assert answer.status_code == code == status and words in description, (form, answer.text)
    missing = httpx.get(f"{srv.url}/open311/v2/requests/R-none.{fmt}")
    assert missing.status_code == 404 and spec_error(missing, fmt)[0] == 404
    wide = httpx.get(f"{srv.url}/open311/v2/requests.{fmt}", params={"start_date": "2026-01-01T00:00:00Z",
                                                                      "end_date": "2026-06-01T00:00:00Z"})  # fmt: skip
    assert wide.status_code == 400 and "90 days" in spec_error(wide, fmt)[1]
    assert httpx.get(f"{srv.url}/open311/v2/tokens/nothing.{fmt}").status_code == 404


def _emergency(srv: ServerThread) -> str:
    services = httpx.get(f"{srv.url}/open311/v2/services.json").json()
    return next(s["service_code"] for s in services if s["group"] == "突发事件")


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_service_discovery_names_the_endpoint(server, fmt: str) -> None:  # noqa: ANN001
    srv, _ = server
    found = httpx.get(f"{srv.url}/open311/discovery.{fmt}")
    assert found.status_code == 200
    if fmt == "json":
        (endpoint,) = found.json()["endpoints"]
        formats = endpoint["formats"]
    else:
        endpoint = xmltodict.parse(found.content)["discovery"]["endpoints"]["endpoint"]
        formats = endpoint["formats"]["format"]
    assert endpoint["url"] == f"{srv.url}/open311/v2" and endpoint["specification"].endswith("GeoReport_v2")
    assert set(formats) == {"text/xml", "application/json"}
    # the client finds the services at the endpoint the discovery names
    assert GeoReport(endpoint["url"], output_format=fmt).get_service_list()
