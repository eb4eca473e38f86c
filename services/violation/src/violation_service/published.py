"""The messages the violation service owns: its events, and the commands addressed to it."""

from servicekit.messages import Message

PUBLISHED: list[type[Message]] = []
