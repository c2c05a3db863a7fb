"""Staff accounts: users, passwords, sign-in sessions, bearer secrets."""
