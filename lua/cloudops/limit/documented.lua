--- The service's documented limits (Temporal Cloud, the Cloud Ops API page; the per-identity
-- rates were raised from 10/20/40 in late 2025): requests per second per user, per service
-- account and per account, and async operations in flight per account. cloudops.LIMITS; the
-- client's limits start from them, and the emulator enforces them by default.
return { user = 40, service_account = 80, account = 160, operations = 10 }
