"""Intake: what submitters send, taken in: JSON claims (one or a batch) checked against the
schema, raw X12 837 files (API, SFTP drop, drop folders) stored, acknowledged and admitted."""
