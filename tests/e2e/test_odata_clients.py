"""Real OData clients against the app, keys enforced.

* python-odata (``odata``): a maintained OData 4.0 client driven by $metadata. It reads the entity set,
  one entity by key, a filtered query and paged results, and changes a row with PATCH.
* pyodata: metadata-driven too, but an OData **V2** client: it reads our CSDL 4.0 $metadata fully (entity
  set, type, key, Edm types), while its data requests expect V2's ``{"d": ...}`` JSON envelope, which no
  OData 4.0 service (Dataverse included) sends. So it is tested on what it can read: the model.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pyodata
import pytest
import requests
from helpers import ALL_COLUMNS
from odata import ODataService
from odata.exceptions import ODataError


@pytest.fixture(scope="module")
def session(keyed_app):
    """An HTTP session that sends the function key in its header, as a client configured with a key does."""
    http = requests.Session()
    http.headers["x-functions-key"] = keyed_app.key
    http.requests_seen = []
    http.hooks["response"].append(lambda r, *args, **kwargs: http.requests_seen.append(r.request))
    return http


@pytest.fixture(scope="module")
def five(keyed_app, session):
    """Five finished operations of this module, newest first, and the time before the first."""
    since = datetime.now(UTC) - timedelta(seconds=1)
    ids = []
    for n in range(5):
        response = session.post(keyed_app.url("data/v9.2/sample_Echo"), json={"N": n},
                                headers={"Prefer": "respond-async"}, timeout=30)
        ids.append(response.json()["backgroundOperationId"])
    for op_id in ids:
        keyed_app.wait_for_status(op_id, 30)
    return ids[::-1], since


def _service(keyed_app, session, **options) -> ODataService:
    return ODataService(keyed_app.url("data/v9.2/"), reflect_entities=True, session=session,
                        quiet_progress=True, **options)


def test_python_odata_reflects_the_entity_set_from_metadata(keyed_app, session):
    service = _service(keyed_app, session)
    entity = service.entities["backgroundoperations"]
    assert entity.__odata_collection__ == "backgroundoperations"
    assert all(hasattr(entity, column) for column in ALL_COLUMNS)


def test_python_odata_reads_one_entity_by_key(keyed_app, session, five):
    service = _service(keyed_app, session)
    entity = service.entities["backgroundoperations"]
    newest = five[0][0]
    row = service.query(entity).get(newest)
    assert row.backgroundoperationid == newest and row.name == "sample_Echo"
    assert row.inputparameters == '[{"Key":"N","Value":4}]' and row.backgroundoperationstatuscode == 30
    assert row.createdon.tzinfo is not None


def test_python_odata_filters_and_caps_with_top(keyed_app, session, five):
    ids, since = five
    service = _service(keyed_app, session)
    entity = service.entities["backgroundoperations"]
    query = service.query(entity).filter(entity.createdon >= since).filter(entity.name == "sample_Echo")
    assert [row.backgroundoperationid for row in query.all()][:5] == ids
    capped = query.limit(2).all()
    assert [row.backgroundoperationid for row in capped] == ids[:2]


def test_python_odata_orders_by_createdon_desc_and_hears_501_for_what_is_not_implemented(keyed_app, session, five):
    ids, since = five
    service = _service(keyed_app, session)
    entity = service.entities["backgroundoperations"]
    query = service.query(entity).filter(entity.createdon >= since)
    assert [row.backgroundoperationid for row in query.order_by(entity.createdon.desc()).all()][:5] == ids
    for refused in (query.order_by(entity.name.asc()), query.offset(2)):
        with pytest.raises(ODataError) as answer:
            refused.all()
        assert answer.value.status_code == "HTTP 501" and answer.value.code == "NotImplemented"
    xml = session.get(keyed_app.url("data/v9.2/backgroundoperations"), params={"$format": "xml"}, timeout=10)
    assert xml.status_code == 406 and xml.json()["error"]["code"] == "NotAcceptable"


def test_python_odata_follows_next_links_through_every_page(keyed_app, session, five):
    ids, since = five
    service = _service(keyed_app, session, extra_headers={"Prefer": "odata.maxpagesize=2"})
    entity = service.entities["backgroundoperations"]
    before = len(session.requests_seen)
    # the name too: the purge's system job is made by the app's first request, which may be this module's first
    rows = service.query(entity).filter(entity.createdon >= since).filter(entity.name == "sample_Echo").all()
    pages = [r for r in session.requests_seen[before:] if "backgroundoperations" in r.url]
    assert [row.backgroundoperationid for row in rows] == ids
    assert len(pages) == 3  # 2 + 2 + 1
    assert all(keyed_app.key not in r.headers.get("Prefer", "") for r in pages)


def test_python_odata_cancels_by_saving_the_state_columns(keyed_app, session):
    response = session.post(keyed_app.url("ExecuteBackgroundOperation"), timeout=30, json={
        "Request": {"RequestName": "sample_Echo"}, "PostponeUntil": "2099-01-01T00:00:00Z"})
    op_id = response.json()["backgroundOperationId"]
    service = _service(keyed_app, session)
    entity = service.entities["backgroundoperations"]
    row = service.query(entity).get(op_id)
    row.backgroundoperationstatecode, row.backgroundoperationstatuscode = 3, 32
    service.save(row)  # PATCH with @odata.type and the changed columns, then a fresh GET
    assert row.backgroundoperationstatuscode == 32
    assert keyed_app.row(op_id)["backgroundoperationstatuscode"] == 32


def test_pyodata_reads_the_model_from_metadata(keyed_app, session):
    client = pyodata.Client(keyed_app.url("data/v9.2/"), session)
    assert [entity_set.name for entity_set in client.schema.entity_sets] == ["backgroundoperations", "asyncoperations"]
    entity_type = client.schema.entity_type("backgroundoperation")
    assert [key.name for key in entity_type.key_proprties] == ["backgroundoperationid"]
    types = {prop.name: prop.typ.name for prop in entity_type.proprties()}
    assert set(types) == set(ALL_COLUMNS)
    assert types["backgroundoperationid"] == "Edm.Guid" and types["retrycount"] == "Edm.Int32"
    assert types["createdon"] == "Edm.DateTimeOffset"
    jobs = client.schema.entity_type("asyncoperation")  # the same rows as System Jobs
    assert [key.name for key in jobs.key_proprties] == ["asyncoperationid"]
    assert {p.name: p.typ.name for p in jobs.proprties()}["executiontimespan"] == "Edm.Double"
