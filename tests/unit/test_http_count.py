"""The bench's request counter (bench/http_count.py): each request a client sends counts once, by service and
method, however its bytes are split on the way, whatever its body holds."""

from __future__ import annotations

from collections import Counter

from bench.http_count import RequestCounter

BODY = b"\r\n\r\nGET /not-a-request HTTP/1.1\r\n\r\n"  # a body that reads like a request must not count as one
CHUNKS = [b"ab\r\nc", b"\r\n\r\nDELETE / HTTP/1.1\r\n\r\n"]
REQUESTS = (
    b"GET /devstoreaccount1/t(PartitionKey='a',RowKey='b') HTTP/1.1\r\nHost: x\r\n\r\n"
    + b"POST /devstoreaccount1/q/messages HTTP/1.1\r\nContent-Length: %d\r\n\r\n" % len(BODY) + BODY
    + b"PUT /devstoreaccount1/c/blob HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
    + b"".join(b"%x;ext=1\r\n%s\r\n" % (len(chunk), chunk) for chunk in CHUNKS) + b"0\r\n\r\n"
    + b"DELETE /devstoreaccount1/q/messages/1?popreceipt=x HTTP/1.1\r\ncontent-length: 0\r\n\r\n"
)
EXPECTED = Counter({"queue GET": 1, "queue POST": 1, "queue PUT": 1, "queue DELETE": 1})


def _count(*pieces: bytes) -> Counter[str]:
    counter = RequestCounter()
    read = counter.reader("Queue")
    for piece in pieces:
        read(piece)
    return counter.taken()


def test_each_request_counts_once_however_the_bytes_are_split():
    assert _count(REQUESTS) == EXPECTED
    for cut in range(1, len(REQUESTS)):
        assert _count(REQUESTS[:cut], REQUESTS[cut:]) == EXPECTED, cut
    assert _count(*(REQUESTS[i:i + 1] for i in range(len(REQUESTS)))) == EXPECTED


def test_taken_starts_the_count_again_and_connections_are_read_apart():
    counter = RequestCounter()
    first, second = counter.reader("Table"), counter.reader("Blob")
    first(REQUESTS[:30])  # half a request on one connection does not confuse the other
    second(b"HEAD /c/b HTTP/1.1\r\n\r\n")
    assert counter.taken() == Counter({"blob HEAD": 1})
    first(REQUESTS[30:])
    assert counter.taken() == Counter({"table GET": 1, "table POST": 1, "table PUT": 1, "table DELETE": 1})
    assert counter.taken() == Counter()
