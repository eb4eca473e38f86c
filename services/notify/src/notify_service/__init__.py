"""The notify service: SMS to registered phones, delivery records and the in-app inbox."""
