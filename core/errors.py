"""Expected failures: each carries a message for the user; the CLI prints it, no traceback."""


class CalhousingError(Exception):
    """A failure the user can act on: bad data, a service that is down, a missing model."""


class DataContractError(CalhousingError):
    """The data breaks the declared schema; the message names the column and the rows."""
