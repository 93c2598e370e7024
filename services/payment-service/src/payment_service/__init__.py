"""The payment service: payments, reversals, promise settlement and payment plans."""
