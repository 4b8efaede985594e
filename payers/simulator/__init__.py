"""The payer simulator: answers 837s like a payer does, with a 999, a 277CA and 835s later."""
