"""The identity service: Accounts, counter registration, bindings and tokens."""
