"""Who the payers are and what they require: profiles, pure rule functions, the payer simulator."""
