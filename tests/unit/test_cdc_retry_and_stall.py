"""The CDC sensor's pure decisions: backoff between retries, giving a range up, and a stalled partition."""

import pytest

from mesh_assets.bronze.cdc_stall import assess_partitions, last_commit_ms, stall_verdict
from mesh_assets.lib.cdc.records import OffsetRange, TopicPartition
from mesh_assets.lib.cdc.retry_policy import FailedAttempt, RetryPolicy, decide, reason_signature

TP = TopicPartition("aladdin.trades", 1)
LOST = "KafkaRangeError: aladdin.trades-1-0-{end}: offsets 0..4 are no longer on the broker (log starts at 5)"


def failures(*errors: str, start_s: float = 1000.0, step_s: float = 100.0) -> list[FailedAttempt]:
    return [FailedAttempt(f"run{i}", f"aladdin.trades-1-0-{10 + i}", start_s + i * step_s, e)
            for i, e in enumerate(errors)]


def test_backoff_doubles_from_the_base_and_is_capped():
    policy = RetryPolicy(max_attempts=5, base_backoff_s=30, max_backoff_s=200)
    assert [policy.backoff_s(n) for n in range(6)] == [0, 30, 60, 120, 200, 200]


@pytest.mark.parametrize("kwargs", [{"max_attempts": 0}, {"base_backoff_s": -1}])
def test_a_policy_that_cannot_work_is_refused(kwargs):
    with pytest.raises(ValueError):
        RetryPolicy(**kwargs)


def test_a_failure_in_a_shared_run_is_retried_alone_at_once_and_never_given_up_on():
    import dataclasses

    policy = RetryPolicy(max_attempts=1, base_backoff_s=10)
    [shared] = [dataclasses.replace(f, shared=True) for f in failures(LOST.format(end=10))]
    assert decide([shared], policy, now_s=1000).action == "request"  # another partition may have caused it
    alone = failures(LOST.format(end=10), start_s=1001)
    assert decide([shared, *alone], policy, now_s=1001).action == "stop"  # failed again on its own


def test_no_failure_is_requested_at_once():
    assert decide([], RetryPolicy(), now_s=0).action == "request"


def test_a_failed_range_waits_its_backoff_then_is_requested_again():
    policy = RetryPolicy(max_attempts=5, base_backoff_s=10)
    found = failures(LOST.format(end=10), LOST.format(end=11))  # last failure ended at 1100 s
    waiting = decide(found, policy, now_s=1100 + 19)
    assert waiting.action == "wait" and waiting.retry_at_s == 1100 + 20  # 2nd failure: 2 x base
    assert "failed 2 times" in waiting.describe()
    assert decide(found, policy, now_s=1100 + 20).action == "request"


def test_the_same_reason_max_attempts_times_stops_even_when_the_numbers_in_it_differ():
    policy = RetryPolicy(max_attempts=3, base_backoff_s=0)
    found = failures(*(LOST.format(end=10 + i) for i in range(3)))
    decision = decide(found, policy, now_s=10**9)
    assert decision.action == "stop" and decision.same_reason == 3 and decision.last == found[-1]
    assert "stopped asking" in decision.describe() and "no longer on the broker" in decision.describe()
    assert decide(found[:2], policy, now_s=10**9).action == "request"


def test_a_changed_reason_restarts_the_count_but_not_the_backoff():
    policy = RetryPolicy(max_attempts=3, base_backoff_s=1)
    found = failures(LOST.format(end=10), LOST.format(end=11), "OSError: catalog unreachable")
    decision = decide(found, policy, now_s=0)
    assert decision.action == "wait" and decision.same_reason == 1 and decision.failures == 3
    assert decision.retry_at_s == found[-1].ended_at_s + 4


def test_the_reason_is_the_first_line_with_digits_blanked():
    assert reason_signature("ValueError: offset 17 bad\nTraceback ...") == "ValueError: offset # bad"


def test_last_commit_is_the_newest_commit_that_covered_the_partition():
    other = TopicPartition("aladdin.trades", 0)
    commits = [(5000, [OffsetRange("aladdin.trades", 0, 10, 20)]),  # newest first
               (4000, [OffsetRange("aladdin.trades", 1, 5, 5), OffsetRange("aladdin.trades", 0, 0, 10)]),
               (3000, [OffsetRange("aladdin.trades", 1, 0, 5)])]
    assert last_commit_ms(commits, [TP, other]) == {other: 5000, TP: 3000}  # an empty range is no commit
    assert last_commit_ms(commits, []) == {}


def test_a_partition_is_stalled_only_when_behind_and_silent_past_the_threshold():
    quiet = TopicPartition("aladdin.trades", 0)
    fresh = TopicPartition("aladdin.trades", 2)
    never = TopicPartition("aladdin.trades", 3)
    stalls = assess_partitions(
        end_offsets={quiet: 50, TP: 80, fresh: 90, never: 7},
        committed={quiet: 50, TP: 60, fresh: 10},
        last_commits={quiet: 0, TP: 100_000, fresh: 150_000},
        now_ms=200_000, threshold_s=60, waiting_since_ms={never: 190_000},
    )
    by_tp = {s.topic_partition: s for s in stalls}
    assert not by_tp[quiet].stalled  # caught up: a quiet topic is not a stuck one
    assert by_tp[TP].stalled and by_tp[TP].lag == 20 and by_tp[TP].age_s == 100
    assert not by_tp[fresh].stalled  # behind, but committed 50 s ago
    assert not by_tp[never].stalled and by_tp[never].age_s == 10  # waiting 10 s for its first commit
    verdict = stall_verdict("aladdin.trades", stalls, 60)
    assert not verdict.passed and verdict.metadata["stalled_partitions"] == ["aladdin.trades-1"]
    assert "aladdin.trades-1 is 20 offsets behind (end 80, committed 60)" in verdict.description
    first = verdict.metadata["lagging"][0]
    assert (first["end_offset"], first["committed_offset"], first["seconds_since_last_commit"],
            first["threshold_seconds"]) == (80, 60, 100, 60)


def test_never_committed_without_a_first_sighting_has_no_age_and_is_not_stalled():
    [stall] = assess_partitions({TP: 5}, {}, {}, now_ms=10**12, threshold_s=1)
    assert stall.age_s is None and not stall.stalled
    assert stall_verdict("aladdin.trades", [stall], 1).passed
