"""SQLite with `BEGIN IMMEDIATE` transactions on Django < 5.1, for the package's test settings.

Django 5.1 added `OPTIONS["transaction_mode"]`; before it, `atomic()` starts a deferred
transaction, and two requests that read and then write (the first requests of a new subject)
fail at once with "database is locked" instead of waiting their turn. The concurrency tests are
about the package, not SQLite's default, so on Django 4.2 they run on this small subclass.
"""

from django.db.backends.sqlite3 import base


class DatabaseWrapper(base.DatabaseWrapper):
    def _start_transaction_under_autocommit(self):
        self.cursor().execute("BEGIN IMMEDIATE")
