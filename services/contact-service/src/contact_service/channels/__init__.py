"""Channel adapters: how an allowed contact is actually made (e-mail, SMS, letters, dialer)."""
