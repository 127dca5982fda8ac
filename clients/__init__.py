"""Who is who: clients (the agency's customers and admins) and the wallets they sign in with."""
