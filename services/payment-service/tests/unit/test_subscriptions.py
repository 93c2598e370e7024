"""The payment service's subscriptions declare the events their handlers act on; the consumer
skips the others, so for every other event of those topics the handler must build no command."""

from __future__ import annotations

import pytest

from dcp_platform.testing.subscriptions import RecordingBus, skipped_examples
from payment_service.application.consumers import PaymentConsumers
from payment_service.bootstrap import subscriptions


@pytest.mark.parametrize("index", range(3))
async def test_an_event_a_subscription_skips_is_one_its_handler_ignores(index: int) -> None:
    bus = RecordingBus()
    subscription = subscriptions(PaymentConsumers(bus))[index]  # type: ignore[arg-type]
    assert subscription.handles is not None
    for delivery in skipped_examples(subscription):
        await subscription.handler(None, delivery)
    assert bus.commands == []
