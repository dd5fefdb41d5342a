"""Deferred writes (shared/services/later.py): kept on disk, tried several at once, never given up untried."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from helpers import wait_until

from shared.domain.errors import StorageUnavailable
from shared.services.later import Deferred, Later


class Storage:
    """A fake storage that fails until ``up`` is set, and counts each write tried and each one made."""

    def __init__(self, *, up: bool = False, hold: threading.Event | None = None) -> None:
        self.up, self.hold = up, hold
        self.tried: list[str] = []
        self.done: list[str] = []
        self.at_once = self.most_at_once = 0
        self._lock = threading.Lock()

    def carry_out(self, item: Deferred) -> None:
        with self._lock:
            self.tried.append(item.operation_id)
            self.at_once += 1
            self.most_at_once = max(self.most_at_once, self.at_once)
        try:
            if self.hold is not None:
                self.hold.wait(10)
            if not self.up:
                raise StorageUnavailable("down")
            with self._lock:
                self.done.append(item.operation_id)
        finally:
            with self._lock:
                self.at_once -= 1


def later(folder, storage: Storage, **options) -> Later:
    return Later(folder, storage.carry_out, base_seconds=0.01, max_pause_seconds=0.05, **options)


def test_a_write_is_kept_on_disk_until_storage_answers_then_done_once_and_forgotten(tmp_path):
    storage = Storage()
    deferred = later(tmp_path, storage)
    deferred.add("withdraw", "op-1", extra=1)
    [kept] = list(tmp_path.glob("*.json"))
    assert Deferred.from_json(kept.read_text()).details == {"extra": 1}
    wait_until(lambda: len(storage.tried) >= 3, message="a few tries while storage fails")
    assert storage.done == [] and kept.exists()
    storage.up = True
    wait_until(lambda: storage.done == ["op-1"], message="the write once storage answers")
    wait_until(lambda: deferred.pending() == 0 and not kept.exists(), message="the write to be forgotten")
    assert storage.done == ["op-1"]


def test_many_writes_are_tried_at_once_up_to_the_bound_and_none_waits_behind_another(tmp_path):
    hold = threading.Event()
    storage = Storage(up=True, hold=hold)
    deferred = later(tmp_path, storage, threads=4)
    for i in range(40):
        deferred.add("send", f"op-{i}")
    wait_until(lambda: storage.at_once == 4, message="four writes at once")
    hold.set()
    wait_until(lambda: len(storage.done) == 40, message="every write")
    assert storage.most_at_once == 4  # never more than the bound, over the whole run
    assert sorted(storage.done) == sorted(f"op-{i}" for i in range(40))


def test_a_host_that_starts_again_takes_up_the_writes_the_last_one_left(tmp_path):
    down = Storage()
    later(tmp_path, down).add("callback", "op-1", state="delivered", result="200")
    wait_until(lambda: down.tried, message="the first host's try")  # ... and then that host dies
    storage = Storage(up=True)
    assert later(tmp_path, storage).resume() == 1
    wait_until(lambda: storage.done == ["op-1"], message="the next host to make the write")


def test_a_file_that_is_not_a_deferred_write_is_dropped_and_the_rest_taken_up(tmp_path):
    (tmp_path / "broken.json").write_text("{not json")
    storage = Storage(up=True)
    Later(tmp_path, storage.carry_out).add("send", "op-1")
    assert later(tmp_path, storage).resume() >= 0
    wait_until(lambda: "op-1" in storage.done, message="the good write")
    assert not (tmp_path / "broken.json").exists()


def test_a_write_older_than_its_age_limit_is_given_up_only_after_it_was_tried(tmp_path):
    clock = [datetime(2030, 1, 1, tzinfo=UTC)]
    storage = Storage()
    deferred = later(tmp_path, storage, max_age=timedelta(hours=1), clock=lambda: clock[0])
    deferred.add("withdraw", "op-1")
    clock[0] += timedelta(hours=2)  # the host slept through it: still tried before it is given up
    wait_until(lambda: deferred.pending() == 0, message="the write to be given up")
    assert storage.tried == ["op-1"] and not list(tmp_path.glob("*.json"))


def test_a_write_that_can_never_be_made_is_given_up_at_once(tmp_path):
    def impossible(item: Deferred) -> None:
        raise ValueError("no such kind")

    deferred = Later(tmp_path, impossible, base_seconds=0.01)
    deferred.add("unknown", "op-1")
    wait_until(lambda: deferred.pending() == 0, message="the write to be given up")
    assert not list(tmp_path.glob("*.json"))


@pytest.mark.parametrize("threads", [1, 8])
def test_nothing_starts_before_a_write_is_deferred(tmp_path, threads):
    before = {t.name for t in threading.enumerate()}
    Later(tmp_path, Storage().carry_out, threads=threads).resume()  # an empty folder
    assert not {t.name for t in threading.enumerate()} - before


@pytest.mark.filterwarnings("error::pytest.PytestUnhandledThreadExceptionWarning")  # it ends, it does not fail
def test_once_the_interpreter_shuts_its_pools_down_a_due_write_stays_on_disk_and_its_thread_ends(tmp_path):
    storage = Storage()
    deferred, before = later(tmp_path, storage), set(threading.enumerate())
    deferred.add("withdraw", "op-1")
    [hand_out] = [t for t in threading.enumerate() if t not in before and t.name == "bgops-later-due"]
    wait_until(lambda: storage.tried, message="the first try")
    deferred._pool.shutdown()  # what the interpreter does to every pool as it exits
    hand_out.join(5)
    assert not hand_out.is_alive()
    assert len(list(tmp_path.glob("*.json"))) == 1 and storage.done == []
