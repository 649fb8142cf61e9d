"""Conversations that cross model families, through every client dialect, against strict fakes.

Four strict upstreams (tests/fakes/families.py: Anthropic, OpenAI Chat, OpenAI Responses, Gemini 3)
refuse what the real APIs refuse about reasoning state. A conversation of eight turns with thinking
and a tool call on every turn goes round the four families twice, in every order of the four (24),
through each client dialect with its official SDK. No upstream may ever refuse a request, and on
its second round each family must find the state of its first-round answer back in the history,
exactly as it gave it out. `talk` conversations send a user message with every tool result (each
turn is a new turn for Anthropic, which then thinks every time); the others are one long tool loop
(Anthropic must have thinking turned off when it continues another model's turn).
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator

import pytest

from babelgate.config import parse
from babelgate.store.sqlite import SqliteStore
from tests.conftest import GatewayFactory, start_gateway
from tests.fakes.families import MODELS, FamilyFake, family_config
from tests.support.cross_family import Conversation, forget_clients

KINDS = ("anthropic", "openai", "openai-responses", "gemini")
DIALECTS = ("anthropic", "openai", "openai-responses", "gemini")
ORDERS = list(itertools.permutations(KINDS))


@pytest.fixture(autouse=True)
def _fresh_clients() -> None:
    forget_clients()  # the last test's clients were closed when it ended


@pytest.fixture
async def fakes() -> AsyncIterator[dict[str, FamilyFake]]:
    started = {kind: await FamilyFake(kind).start() for kind in KINDS}
    yield started
    for fake in started.values():
        await fake.stop()


def _assert_served_and_restored(fakes: dict[str, FamilyFake], conversations: int, dialect: str) -> None:
    for kind, fake in fakes.items():
        assert not fake.rejected, f"{kind} refused: {fake.rejected[0][1].json}"
        lost = [key for key, whole in fake.checked if not whole]
        assert not lost, f"{kind} did not get its own state back (client {dialect}) for {lost[:5]}"
    # Every family answered with state in every conversation and found it again on its second round
    # (Anthropic only where it thought: a continued turn another model began runs without thinking).
    for kind in ("openai", "openai-responses", "gemini"):
        assert len(fakes[kind].checked) >= conversations, (kind, len(fakes[kind].checked))


@pytest.mark.parametrize("talk", [True, False], ids=["talk", "tool-loop"])
@pytest.mark.parametrize("dialect", DIALECTS)
async def test_every_order_of_families_through_every_client(
    dialect: str, talk: bool, fakes: dict[str, FamilyFake], gateway_factory: GatewayFactory
) -> None:
    gateway = await gateway_factory(family_config(fakes))
    for number, order in enumerate(ORDERS):
        conversation = Conversation(dialect, gateway.url, f"c{number}", talk)
        for kind in order * 2:
            await conversation.turn(MODELS[kind])
    _assert_served_and_restored(fakes, len(ORDERS), dialect)
    if talk:  # every Anthropic turn thought, and its second round found its signed thinking
        assert len(fakes["anthropic"].checked) >= len(ORDERS)
    else:  # when Anthropic began the loop, its own thinking carries it, and came back
        assert len(fakes["anthropic"].checked) >= len(ORDERS) // 4


@pytest.mark.parametrize("dialect", DIALECTS)
async def test_two_instances_sharing_a_store_and_a_restart(dialect: str, fakes: dict[str, FamilyFake], tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Turns alternate between two gateways on one SQLite file; half way, one of them restarts."""
    config = parse(family_config(fakes))
    path = tmp_path / "state.db"
    first = await start_gateway(config, SqliteStore(path))
    second = await start_gateway(config, SqliteStore(path))
    try:
        for number, order in enumerate(ORDERS[:6]):
            conversation = Conversation(dialect, "", f"shared{number}", talk=number % 2 == 0)
            for turn, kind in enumerate(order * 2):
                if number == 3 and turn == 4:  # a restart in the middle of a conversation
                    await first.stop()  # the app's cleanup stops the gateway and closes its store
                    first = await start_gateway(config, SqliteStore(path))
                conversation.url = (first if turn % 2 == 0 else second).url
                await conversation.turn(MODELS[kind])
        _assert_served_and_restored(fakes, 6, dialect)
    finally:
        for running in (first, second):
            await running.stop()
