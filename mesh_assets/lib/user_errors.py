"""A user's mistake, as opposed to a crash: one sentence naming what is wrong, never retried."""


class UserError(ValueError):
    """A request the user can fix. Its message is one sentence naming the record, portfolio, composite, year
    or file at fault; the `mesh` command prints it as one line (``--debug`` adds the traceback)."""
