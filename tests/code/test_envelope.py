"""What a V2 request asks beside its inputs (inference.envelope): content types the model
does not decode and outputs it does not have are refused by name; its own are answered."""

import pytest

from inference.codec import InvalidRequestError
from inference.envelope import check

OUTPUT = "median_house_value"


@pytest.mark.parametrize("request_type", [None, "np", "pd"])
def test_no_content_type_and_the_numeric_ones_pass(request_type: str | None) -> None:
    check(request_type, {"MedInc": None, "features": "np"}, [], OUTPUT)
    check(request_type, {}, [OUTPUT], OUTPUT)


@pytest.mark.parametrize("request_type", ["str", "base64", "datetime", "hf", "pil_image", "NP"])
def test_a_request_content_type_the_model_does_not_decode_is_refused(request_type: str) -> None:
    with pytest.raises(InvalidRequestError, match=f"content type '{request_type}' is not") as err:
        check(request_type, {}, [], OUTPUT)

    assert err.value.reason == "content_type"


def test_an_input_content_type_the_model_does_not_decode_is_refused_naming_the_input() -> None:
    with pytest.raises(InvalidRequestError, match="input 'AveRooms': content type 'str'"):
        check(None, {"MedInc": "np", "AveRooms": "str"}, [], OUTPUT)


def test_an_output_the_model_does_not_have_is_refused_naming_it() -> None:
    with pytest.raises(InvalidRequestError, match=r"outputs \['price'\] do not exist") as err:
        check(None, {}, [OUTPUT, "price"], OUTPUT)

    assert err.value.reason == "unknown_output"
