"""Expected failures: each carries a message for the user, printed by the CLI without a traceback."""


class CalhousingError(Exception):
    """A failure the user can act on: bad data, a service that is down, a missing model."""


class DataContractError(CalhousingError):
    """The data breaks the declared schema; the message names the column and the rows."""
