"""The database: peewee models, the connection, and forward-only migrations."""
