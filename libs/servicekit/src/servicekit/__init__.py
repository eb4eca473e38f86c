"""servicekit: the building blocks every service uses, one way per concern. No domain types, no events."""
