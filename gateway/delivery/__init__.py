"""Delivery: reaching payers (HTTP mailboxes, SFTP, drop folders, the simulator), with the
credentials profiles name, a circuit breaker per payer and connections kept per process."""
