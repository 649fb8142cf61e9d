"""The cooldown book's policy, driven by a fake clock."""

from __future__ import annotations

import math
import random

import pytest

from babelgate.providers.classify import Failure, Reason
from babelgate.routing.cooldown import CooldownBook, Policy
from babelgate.store.base import ALL_MODELS, Entry

T0 = 1_700_000_000.0


class Clock:
    def __init__(self) -> None:
        self.now = T0
        self.calls = 0

    def __call__(self) -> float:
        self.calls += 1
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class FixedRandom(random.Random):
    def __init__(self, value: float) -> None:
        super().__init__(0)
        self.value = value
        self.asked: list[tuple[float, float]] = []

    def uniform(self, a: float, b: float) -> float:
        self.asked.append((a, b))
        return self.value


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def book(clock: Clock) -> CooldownBook:
    return CooldownBook(clock, random.Random(7))


def fail(reason: Reason, reset: float | None = None, account_wide: bool = False, status: int = 429) -> Failure:
    return Failure(reason, reset, account_wide, reason is not Reason.BAD_REQUEST, status)


def wait_out(book: CooldownBook, clock: Clock, cred: str, model: str) -> float:
    """Advance past the block on (cred, model); returns how long it lasted."""
    block = book.blocked(cred, model)
    assert block is not None
    seconds = block.until - clock.now
    clock.advance(seconds)
    assert book.blocked(cred, model) is None
    return seconds


def test_nothing_is_blocked_at_first(book: CooldownBook) -> None:
    assert book.blocked("k1", "gpt-5") is None


def test_blocked_is_a_dict_lookup_without_the_clock_when_nothing_cools(clock: Clock, book: CooldownBook) -> None:
    book.blocked("k1", "gpt-5")
    book.record_failure("k2", "other", fail(Reason.RATE_LIMIT, 30))
    calls = clock.calls
    assert book.blocked("k1", "gpt-5") is None
    assert clock.calls == calls


# Rate limits.


def test_rate_limit_with_reset_blocks_that_model_only(clock: Clock, book: CooldownBook) -> None:
    entry = book.record_failure("k1", "gpt-5", fail(Reason.RATE_LIMIT, 12))
    assert entry == Entry("k1", "gpt-5", Reason.RATE_LIMIT, T0 + 12, 1, 429)
    assert book.blocked("k1", "gpt-5") == entry
    assert book.blocked("k1", "gpt-5-mini") is None
    assert book.blocked("k2", "gpt-5") is None
    clock.advance(11.9)
    assert book.blocked("k1", "gpt-5") is not None
    clock.advance(0.1)
    assert book.blocked("k1", "gpt-5") is None


def test_rate_limit_backoff_doubles_to_a_cap(clock: Clock, book: CooldownBook) -> None:
    waits = []
    for _ in range(6):
        book.record_failure("k1", "m", fail(Reason.RATE_LIMIT))
        waits.append(wait_out(book, clock, "k1", "m"))
    assert waits == [5, 10, 20, 40, 60, 60]


def test_success_resets_the_streak(clock: Clock, book: CooldownBook) -> None:
    book.record_failure("k1", "m", fail(Reason.RATE_LIMIT))
    wait_out(book, clock, "k1", "m")
    book.record_failure("k1", "m", fail(Reason.RATE_LIMIT))
    assert wait_out(book, clock, "k1", "m") == 10
    dropped = book.record_success("k1", "m")
    assert [entry.reason for entry in dropped] == [Reason.RATE_LIMIT]
    book.record_failure("k1", "m", fail(Reason.RATE_LIMIT))
    assert wait_out(book, clock, "k1", "m") == 5


def test_a_streak_ends_after_the_window(clock: Clock, book: CooldownBook) -> None:
    book.record_failure("k1", "m", fail(Reason.RATE_LIMIT))
    wait_out(book, clock, "k1", "m")
    clock.advance(Policy().streak_window + 1)
    book.record_failure("k1", "m", fail(Reason.RATE_LIMIT))
    assert wait_out(book, clock, "k1", "m") == 5


def test_in_flight_failures_during_a_cooldown_do_not_escalate(clock: Clock, book: CooldownBook) -> None:
    book.record_failure("k1", "m", fail(Reason.QUOTA))
    for _ in range(5):
        entry = book.record_failure("k1", "m", fail(Reason.QUOTA))
        assert entry is not None and entry.strikes == 1
    assert wait_out(book, clock, "k1", "m") == 60


def test_upstream_reset_zero_still_waits_the_floor(book: CooldownBook, clock: Clock) -> None:
    book.record_failure("k1", "m", fail(Reason.RATE_LIMIT, 0.0))
    assert wait_out(book, clock, "k1", "m") == Policy().min_reset


# Quota.


def test_quota_backoff_without_reset(clock: Clock, book: CooldownBook) -> None:
    waits = []
    for _ in range(5):
        book.record_failure("k1", "m", fail(Reason.QUOTA))
        waits.append(wait_out(book, clock, "k1", "m"))
    assert waits == [60, 300, 1800, 7200, 7200]


def test_quota_with_reset_uses_it(clock: Clock, book: CooldownBook) -> None:
    book.record_failure("k1", "m", fail(Reason.QUOTA, 33740.0))
    assert wait_out(book, clock, "k1", "m") == 33740.0


def test_account_wide_quota_blocks_every_model(book: CooldownBook) -> None:
    entry = book.record_failure("k1", "gpt-5", fail(Reason.QUOTA, 600, account_wide=True))
    assert entry is not None and entry.model == ALL_MODELS
    assert book.blocked("k1", "gpt-5") == entry
    assert book.blocked("k1", "anything-else") == entry
    assert book.blocked("k2", "gpt-5") is None


def test_a_shorter_failure_never_shortens_an_active_block(book: CooldownBook) -> None:
    quota = book.record_failure("k1", "m", fail(Reason.QUOTA, 3600))
    assert book.record_failure("k1", "m", fail(Reason.RATE_LIMIT, 5)) == quota
    assert book.blocked("k1", "m") == quota


def test_a_longer_failure_extends_the_block(clock: Clock, book: CooldownBook) -> None:
    book.record_failure("k1", "m", fail(Reason.RATE_LIMIT, 5))
    book.record_failure("k1", "m", fail(Reason.QUOTA, 3600))
    block = book.blocked("k1", "m")
    assert block is not None and (block.reason, block.until) == (Reason.QUOTA, T0 + 3600)


def test_blocked_reports_the_later_of_model_and_credential_blocks(book: CooldownBook) -> None:
    own = book.record_failure("k1", "m", fail(Reason.RATE_LIMIT, 100))
    wide = book.record_failure("k1", "m", fail(Reason.RATE_LIMIT, 50, account_wide=True))
    assert book.blocked("k1", "m") == own
    assert book.blocked("k1", "other") == wide
    longer = book.record_failure("k1", "m", fail(Reason.QUOTA, 500, account_wide=True))
    assert book.blocked("k1", "m") == longer


# Capacity.


def test_capacity_waits_a_random_short_time(clock: Clock) -> None:
    rng = FixedRandom(7.25)
    book = CooldownBook(clock, rng)
    book.record_failure("k1", "m", fail(Reason.CAPACITY, status=529))
    assert rng.asked == [Policy().capacity_range]
    assert wait_out(book, clock, "k1", "m") == 7.25
    assert book.blocked("k1", "other") is None


def test_capacity_jitter_stays_in_range(clock: Clock) -> None:
    book = CooldownBook(clock, random.Random(1))
    waits = set()
    for i in range(50):
        entry = book.record_failure(f"k{i}", "m", fail(Reason.CAPACITY, status=503))
        assert entry is not None
        waits.add(entry.until - clock.now)
    assert all(2.0 <= wait <= 10.0 for wait in waits)
    assert len(waits) > 40


def test_capacity_honours_an_upstream_reset(clock: Clock, book: CooldownBook) -> None:
    book.record_failure("k1", "m", fail(Reason.CAPACITY, 30, status=529))
    assert wait_out(book, clock, "k1", "m") == 30


# Credential-level failures.


@pytest.mark.parametrize(("reason", "status"), [(Reason.AUTH, "auth_invalid"), (Reason.PERMISSION, "permission_denied")])
def test_auth_and_permission_are_out_for_all_models_until_cleared(clock: Clock, book: CooldownBook, reason: Reason, status: str) -> None:
    assert book.record_failure("k1", "m", fail(reason, status=401)) == Entry("k1", ALL_MODELS, reason, math.inf, 1, 401)
    clock.advance(365 * 86400)
    block = book.blocked("k1", "any-model")
    assert block is not None and block.status == status and block.until == math.inf
    assert book.record_success("k1", "m") == ()  # a late success does not clear it
    assert book.blocked("k1", "m") is not None
    book.replace([e for e in book.snapshot() if e.credential != "k1"])  # what the store sync does after `accounts verify`
    assert book.blocked("k1", "m") is None


def test_model_not_found_blocks_that_model_for_an_hour(clock: Clock, book: CooldownBook) -> None:
    book.record_failure("k1", "gpt-9", fail(Reason.MODEL_NOT_FOUND, account_wide=True, status=404))
    assert book.blocked("k1", "gpt-5") is None
    assert wait_out(book, clock, "k1", "gpt-9") == 3600


# Server and network failures.


@pytest.mark.parametrize("reason", [Reason.SERVER, Reason.NETWORK])
def test_transient_failures_cool_briefly_then_the_whole_credential(clock: Clock, book: CooldownBook, reason: Reason) -> None:
    book.record_failure("k1", "a", fail(reason, status=500))
    assert wait_out(book, clock, "k1", "a") == 2
    book.record_failure("k1", "b", fail(reason, status=500))
    assert book.blocked("k1", "a") is None
    assert wait_out(book, clock, "k1", "b") == 2
    entry = book.record_failure("k1", "c", fail(reason, status=502))
    assert entry is not None and entry.model == ALL_MODELS
    assert book.blocked("k1", "a") == entry
    assert wait_out(book, clock, "k1", "z") == 30


def test_a_finished_answer_resets_the_transient_count(clock: Clock, book: CooldownBook) -> None:
    for model in ("a", "b"):
        book.record_failure("k1", model, fail(Reason.SERVER, status=500))
    book.record_finished("k1")
    entry = book.record_failure("k1", "c", fail(Reason.SERVER, status=500))
    assert entry is not None and entry.model == "c"


def test_bad_request_is_not_the_credentials_fault(book: CooldownBook) -> None:
    assert book.record_failure("k1", "m", fail(Reason.BAD_REQUEST, status=400)) is None
    assert book.blocked("k1", "m") is None


# Questions across credentials.


def test_earliest_available(clock: Clock, book: CooldownBook) -> None:
    assert book.earliest_available([], "m") is None
    assert book.earliest_available(["k1", "k2"], "m") == T0
    book.record_failure("k1", "m", fail(Reason.RATE_LIMIT, 30))
    assert book.earliest_available(["k1", "k2"], "m") == T0
    book.record_failure("k2", "m", fail(Reason.RATE_LIMIT, 10))
    assert book.earliest_available(["k1", "k2"], "m") == T0 + 10
    book.record_failure("k2", "m", fail(Reason.AUTH, status=401))
    assert book.earliest_available(["k1", "k2"], "m") == T0 + 30
    book.record_failure("k1", "m", fail(Reason.PERMISSION, status=403))
    assert book.earliest_available(["k1", "k2"], "m") is None


# Persistence.


def test_snapshot_and_restore_carry_blocks_and_streaks(clock: Clock, book: CooldownBook) -> None:
    book.record_failure("k1", "m", fail(Reason.QUOTA))
    book.record_failure("k2", "m", fail(Reason.AUTH, status=401))
    wait_out(book, clock, "k1", "m")  # expired, but its streak still counts
    fresh = CooldownBook(clock, random.Random(0))
    fresh.restore(book.snapshot())
    assert sorted(fresh.snapshot(), key=lambda e: e.credential) == sorted(book.snapshot(), key=lambda e: e.credential)
    assert fresh.blocked("k2", "other") is not None
    fresh.record_failure("k1", "m", fail(Reason.QUOTA))
    assert wait_out(fresh, clock, "k1", "m") == 300


def test_snapshot_drops_entries_past_the_streak_window(clock: Clock, book: CooldownBook) -> None:
    book.record_failure("k1", "m", fail(Reason.RATE_LIMIT, 5))
    assert len(book.snapshot()) == 1
    clock.advance(5 + Policy().streak_window)
    assert book.snapshot() == []


def test_restore_keeps_the_later_until(book: CooldownBook) -> None:
    current = book.record_failure("k1", "m", fail(Reason.RATE_LIMIT, 100))
    book.restore([Entry("k1", "m", Reason.RATE_LIMIT, T0 + 10)])
    assert book.blocked("k1", "m") == current
    later = Entry("k1", "m", Reason.QUOTA, T0 + 1000, 2, 429)
    book.restore([later])
    assert book.blocked("k1", "m") == later


# Outlier ejection: instabilities in a row bench the credential as UNSTABLE.


def test_three_instabilities_in_a_row_bench_the_credential_as_unstable(clock: Clock, book: CooldownBook) -> None:
    assert book.record_failure("k1", "a", fail(Reason.NETWORK, status=0)) is not None  # a timeout: 2 s on "a"
    assert book.record_break("k1", "a") is None  # a stream broke mid-way: counted, nothing cools
    entry = book.record_failure("k1", "b", fail(Reason.SERVER, status=500))
    assert entry is not None and entry.model == ALL_MODELS and entry.reason is Reason.UNSTABLE
    assert entry.status == "unstable" and wait_out(book, clock, "k1", "z") == 30


def test_breaks_alone_bench_a_credential_even_though_every_stream_began_well(clock: Clock, book: CooldownBook) -> None:
    for _ in range(2):
        book.record_success("k1", "m")  # the first byte came: that is not a clean answer
        assert book.record_break("k1", "m") is None
    book.record_success("k1", "m")
    entry = book.record_break("k1", "m")
    assert entry is not None and entry.reason is Reason.UNSTABLE and entry.last_status == 200
    assert book.blocked("k1", "other-model") == entry


def test_each_bench_in_a_row_doubles_up_to_five_minutes(clock: Clock, book: CooldownBook) -> None:
    lengths = []
    for _ in range(2):
        book.record_break("k1", "m")
    for _ in range(6):
        book.record_break("k1", "m")  # past the streak, each instability benches again
        lengths.append(wait_out(book, clock, "k1", "m"))
    assert lengths == [30, 60, 120, 240, 300, 300]
    book.record_finished("k1")
    assert book.record_break("k1", "m") is None  # one clean answer and the count starts over


def test_a_clean_answer_between_breaks_keeps_the_credential_in(book: CooldownBook) -> None:
    for _ in range(5):
        assert book.record_break("k1", "m") is None
        book.record_finished("k1")
    assert book.blocked("k1", "m") is None
