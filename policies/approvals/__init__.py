"""Human approval of one risky operation: requests bound to the exact document, decided by people,
used once by the agent's re-check (which gets a decision token)."""
