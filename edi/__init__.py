"""Pure X12 library: the claim model and readers/writers for HIPAA 5010 transactions.

Imports only the standard library and pyx12; no database, network, settings or logging.
"""
