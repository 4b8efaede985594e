"""Storage: the database (engines, tables, migrations runner), the job queue's table, the claim
state machine, and the reads and writes of each kind of record, one module per kind."""
