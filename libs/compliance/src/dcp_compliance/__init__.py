"""The contact compliance rules: per-jurisdiction rule packs and the pure decision function of the gate."""
