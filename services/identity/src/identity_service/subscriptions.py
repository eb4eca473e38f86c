"""The messages the identity service consumes: a local tolerant model, a handler and a queue each."""

from servicekit.consumer import Subscription

SUBSCRIPTIONS: list[Subscription] = []
