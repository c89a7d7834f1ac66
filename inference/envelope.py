"""What a V2 request asks beside its inputs: the content types it declares and the outputs it
wants.

MLServer hands both to the runtime unread. This model decodes numeric tensors and has one
output, so a content type it does not decode (MLServer's `str`, `base64`, `datetime`, `hf`,
`pil_image`, or a name no codec has) and an output it does not have are refused with a message
naming them, not ignored: the client would otherwise get an answer to another question.

Pure, like the codec: the runtime reads the fields off MLServer's types and passes them here.
"""

from collections.abc import Mapping, Sequence
from typing import Final

from inference.codec import InvalidRequestError

REQUEST_TYPES: Final = frozenset({"np", "pd"})
"""Request-level content types this model decodes: one tensor (`np`) or one input per column
(`pd`, MLServer's pandas codec: a column per feature)."""
INPUT_TYPES: Final = frozenset({"np"})
"""Input-level: a numeric tensor."""


def check(
    request_type: str | None,
    input_types: Mapping[str, str | None],
    outputs: Sequence[str],
    output: str,
) -> None:
    """Refuse a content type the model does not decode, or an output it does not have."""
    if request_type is not None and request_type not in REQUEST_TYPES:
        raise _unsupported(f"the request's content type {request_type!r}", REQUEST_TYPES)
    for name, declared in input_types.items():
        if declared is not None and declared not in INPUT_TYPES:
            raise _unsupported(f"input {name!r}: content type {declared!r}", INPUT_TYPES)
    if unknown := [name for name in outputs if name != output]:
        raise InvalidRequestError(
            f"requested outputs {unknown} do not exist; this model has one output, {output!r}",
            "unknown_output",
        )


def _unsupported(what: str, supported: frozenset[str]) -> InvalidRequestError:
    return InvalidRequestError(
        f"{what} is not supported: this model decodes numeric tensors; omit the content type "
        f"or send one of {sorted(supported)}",
        "content_type",
    )
