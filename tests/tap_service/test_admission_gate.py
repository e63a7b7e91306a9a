"""The sync admission gate on its own event loop: order, the bounded wait, cancellation."""

import asyncio

import pytest

from tap_service.admission import AdmissionGate, default_slots


async def _hold(gate: AdmissionGate, name: str, seconds: float, log: list[str]) -> bool:
    async with gate.admitted() as admission:
        log.append(name)
        await asyncio.sleep(seconds)
        return admission.overflow


def test_waiters_are_admitted_one_slot_at_a_time_in_arrival_order():
    async def scenario() -> tuple[list[str], int]:
        gate = AdmissionGate(slots=2, patience_s=30)
        log: list[str] = []
        tasks = []
        for i in range(8):
            tasks.append(asyncio.ensure_future(_hold(gate, f"q{i}", 0.02, log)))
            await asyncio.sleep(0)  # each asks in turn
        await asyncio.sleep(0.005)
        most = gate.running
        overflow = await asyncio.gather(*tasks)
        assert not any(overflow)
        return log, most

    log, most = asyncio.run(scenario())
    assert log == [f"q{i}" for i in range(8)]
    assert most == 2


def test_a_waiter_runs_beside_a_long_holder_once_its_patience_is_spent():
    async def scenario() -> tuple[float, bool, list[str]]:
        gate = AdmissionGate(slots=1, patience_s=0.1)
        log: list[str] = []
        long = asyncio.ensure_future(_hold(gate, "long", 2.0, log))
        await asyncio.sleep(0.01)
        start = asyncio.get_running_loop().time()
        overflow = await _hold(gate, "short", 0, log)
        waited = asyncio.get_running_loop().time() - start
        assert gate.running == 1  # the overflow slot was given back
        long.cancel()
        return waited, overflow, log

    waited, overflow, log = asyncio.run(scenario())
    assert overflow
    assert 0.09 <= waited < 1.0
    assert log == ["long", "short"]


def test_a_cancelled_waiter_leaves_the_queue_and_the_next_one_takes_the_slot():
    async def scenario() -> tuple[list[str], int, int]:
        gate = AdmissionGate(slots=1, patience_s=30)
        log: list[str] = []
        first = asyncio.ensure_future(_hold(gate, "first", 0.05, log))
        await asyncio.sleep(0)
        gone = asyncio.ensure_future(_hold(gate, "gone", 0, log))
        await asyncio.sleep(0)
        last = asyncio.ensure_future(_hold(gate, "last", 0, log))
        await asyncio.sleep(0.01)
        assert gate.waiting == 2
        gone.cancel()
        await asyncio.sleep(0.005)
        waiting_after = gate.waiting
        await asyncio.gather(first, last)
        return log, waiting_after, gate.running

    log, waiting_after, running = asyncio.run(scenario())
    assert log == ["first", "last"]
    assert waiting_after == 1
    assert running == 0


def test_a_slot_handed_to_a_waiter_cancelled_at_that_moment_passes_on():
    async def scenario() -> tuple[list[str], int]:
        gate = AdmissionGate(slots=1, patience_s=30)
        log: list[str] = []
        held = gate.admitted()
        await held.__aenter__()
        unlucky = asyncio.ensure_future(_hold(gate, "unlucky", 0, log))
        await asyncio.sleep(0)
        last = asyncio.ensure_future(_hold(gate, "last", 0, log))
        await asyncio.sleep(0.005)
        await held.__aexit__(None, None, None)  # hands the slot to "unlucky"...
        unlucky.cancel()  # ...which is cancelled before it could take it
        await last
        with pytest.raises(asyncio.CancelledError):
            await unlucky
        return log, gate.running

    log, running = asyncio.run(scenario())
    assert log == ["last"]
    assert running == 0


def test_slots_are_two_per_cpu_of_each_process_share():
    assert default_slots(1, cpus=2) == 4
    assert default_slots(2, cpus=2) == 2
    assert default_slots(4, cpus=2) == 2
    assert default_slots(2, cpus=16) == 16


@pytest.mark.parametrize(("slots", "patience", "match"), [
    (0, 1.0, "at least one slot"), (1, 0, "patience must be positive")])
def test_a_gate_without_room_or_patience_is_refused(slots, patience, match):
    with pytest.raises(ValueError, match=match):
        AdmissionGate(slots, patience)
