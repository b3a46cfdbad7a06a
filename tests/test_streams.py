"""The background sink between the reader and a slower consumer (gzip, the database's COPY)."""

from __future__ import annotations

import threading

import pytest

from loaders.streams import ThreadedSink


def test_a_slow_consumer_holds_the_writer_back_instead_of_queueing_the_file() -> None:
    release = threading.Event()
    consumed: list[bytes] = []

    def consume(data: bytes) -> None:
        release.wait()
        consumed.append(data)

    sink = ThreadedSink(consume, name="test-sink", depth=4)
    written: list[int] = []

    def writer() -> None:
        for i in range(20):
            sink.write(b"%d" % i)
            written.append(i)

    thread = threading.Thread(target=writer)
    thread.start()
    thread.join(timeout=1.0)
    # one block in the consumer's hands, four queued, and the writer waits on the sixth
    assert thread.is_alive()
    assert len(written) == 5
    release.set()
    thread.join(timeout=10)
    sink.close()
    assert consumed == [b"%d" % i for i in range(20)]


def test_the_consumers_error_reaches_the_writer() -> None:
    def consume(data: bytes) -> None:
        if data == b"bad":
            raise ValueError("the server refused the row")

    sink = ThreadedSink(consume, name="test-sink", depth=2)
    sink.write(b"good")
    sink.write(b"bad")

    def write_more_then_close() -> None:
        for _ in range(100):  # the error surfaces on a later write...
            sink.write(b"more")
        sink.close()  # ...or on close at the latest

    with pytest.raises(ValueError, match="refused"):
        write_more_then_close()
    with pytest.raises(ValueError, match="refused"):
        sink.close()
