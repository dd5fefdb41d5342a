"""Entity group transactions as the app writes them (shared/storage/entity_batch.py): the same request the SDK's
``submit_transaction`` sends, byte for byte where it matters, and the same answers and errors."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from azure.core import MatchConditions
from azure.data.tables import TableClient, TableServiceClient, TableTransactionError, UpdateMode
from helpers import ACCOUNT_KEY

from faults.proxy import StorageProxy, ports_of
from shared.storage.entity_batch import submit_transaction

ROW = {"name": "sample_Echo", "count": 3, "ok": True, "ratio": 1.5, "when": datetime(2026, 12, 7, 1, 2, 3, tzinfo=UTC),
       "text": "naïve ✓ \"quoted\" {json}\r\n--changeset_not-a-boundary"}
ODD_KEY = "o'k ~-x%2F"  # a quote, a space, a tilde, a percent sign


def _actions(table: TableClient) -> list[tuple]:
    etag = table.create_entity({"PartitionKey": "p", "RowKey": "1", **ROW})["etag"]
    table.create_entity({"PartitionKey": "p", "RowKey": "gone"})
    held = table.create_entity({"PartitionKey": "p", "RowKey": "held"})["etag"]
    return [("update", {"PartitionKey": "p", "RowKey": "1", **ROW, "count": 4},
             {"mode": UpdateMode.REPLACE, "etag": etag, "match_condition": MatchConditions.IfNotModified}),
            ("update", {"PartitionKey": "p", "RowKey": "1b", "count": 1}, {"mode": UpdateMode.MERGE}),
            ("upsert", {"PartitionKey": "p", "RowKey": "2", **ROW}),
            ("upsert", {"PartitionKey": "p", "RowKey": "~3", **ROW}, {"mode": UpdateMode.REPLACE}),
            ("create", {"PartitionKey": "p", "RowKey": ODD_KEY, **ROW}),
            ("delete", {"PartitionKey": "p", "RowKey": "gone"}),
            ("delete", {"PartitionKey": "p", "RowKey": "held"}, {"etag": held,
                                                                 "match_condition": MatchConditions.IfNotModified})]


def _body(sent: bytes) -> str:
    """The body of the one $batch request in ``sent``, its boundaries, dates, table name and ETags made alike."""
    text = sent.decode("utf-8")
    head, _, rest = text[text.index("POST "):].partition("\r\n\r\n")
    body = rest[:int(re.search(r"Content-Length: (\d+)", head).group(1))]
    for pattern, same in ((r"(batch|changeset)_[0-9a-f-]{36}", r"\1_B"), (r"(?m)^(x-ms-date|Date): .*$", r"\1: D"),
                          (r"/(sdk|own)table", "/T"), (r"If-Match: W/.*", "If-Match: E")):
        body = re.sub(pattern, same, body)
    return body


def test_the_request_is_the_one_the_sdk_sends(azurite, unique_name):
    sent: list[bytes] = []
    proxy = StorageProxy(ports_of(azurite), seen=lambda service: sent.append if service == "Table" else len)
    service = TableServiceClient.from_connection_string(proxy.connection_string("devstoreaccount1", ACCOUNT_KEY))
    suffix = unique_name("")
    try:
        bodies = []
        for name, send in ((f"sdktable{suffix}", lambda t, a: t.submit_transaction(a)),
                           (f"owntable{suffix}", submit_transaction)):
            table = service.create_table(name)
            actions = _actions(table)
            with pytest.raises(TableTransactionError) as failed:  # "1b" does not exist: a MERGE of it fails
                sent.clear()
                send(table, actions)
            assert failed.value.status_code == 404
            bodies.append(_body(b"".join(sent)).replace(suffix, ""))
        assert bodies[0] == bodies[1]
        assert bodies[1].count("HTTP/1.1\r\n") == 7  # it compared something
        assert bodies[1].count("If-Match: E") == 2  # the conditional update and the conditional delete
    finally:
        proxy.stop()


def test_each_part_answers_with_the_etag_it_has_now(azurite, unique_name):
    table = TableServiceClient.from_connection_string(azurite).create_table(unique_name("eb"))
    actions = [a for a in _actions(table) if a[1]["RowKey"] != "1b"]
    answers = submit_transaction(table, actions)
    assert len(answers) == 6
    for (kind, entity, *_), answer in zip(actions, answers, strict=True):
        if kind != "delete":
            assert answer["etag"] == table.get_entity("p", entity["RowKey"]).metadata["etag"]
    assert table.get_entity("p", ODD_KEY)["text"] == ROW["text"]
    assert table.get_entity("p", "1")["count"] == 4
    assert {e["RowKey"] for e in table.list_entities()} == {"1", "2", "~3", ODD_KEY}


@pytest.mark.parametrize("clash, status, code", [
    ("stale", 412, "UpdateConditionNotSatisfied"),
    ("exists", 409, "EntityAlreadyExists"),
])
def test_a_failed_part_fails_the_whole_transaction_as_the_sdk_reports_it(azurite, unique_name, clash, status, code):
    table = TableServiceClient.from_connection_string(azurite).create_table(unique_name("eb"))
    first = table.create_entity({"PartitionKey": "p", "RowKey": "1", "n": 1})
    table.update_entity({"PartitionKey": "p", "RowKey": "1", "n": 2})  # the ETag moves on
    failing = (("update", {"PartitionKey": "p", "RowKey": "1", "n": 3},
                {"mode": UpdateMode.REPLACE, "etag": first["etag"], "match_condition": MatchConditions.IfNotModified})
               if clash == "stale" else ("create", {"PartitionKey": "p", "RowKey": "1"}))
    with pytest.raises(TableTransactionError) as failed:
        submit_transaction(table, [("upsert", {"PartitionKey": "p", "RowKey": "new"}), failing])
    assert (failed.value.status_code, failed.value.error_code) == (status, code)
    assert [e["RowKey"] for e in table.list_entities()] == ["1"]  # all or nothing
    assert table.get_entity("p", "1")["n"] == 2
