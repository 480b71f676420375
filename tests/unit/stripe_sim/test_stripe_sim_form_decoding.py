from urllib.parse import urlencode

import pytest
from stripe._encode import _api_encode

from simulators.stripe_sim.wire.form import FormDecodingError, decode_form


def _as_the_sdk_sends(params: dict[str, object]) -> str:
    encoded = urlencode(list(_api_encode(params)))
    return encoded.replace("%5B", "[").replace("%5D", "]")


def test_nested_hashes_and_indexed_arrays_decode_to_what_the_sdk_encoded() -> None:
    params: dict[str, object] = {
        "amount": "1000",
        "payment_method_types": ["au_becs_debit"],
        "mandate_data": {
            "customer_acceptance": {
                "type": "online",
                "online": {"ip_address": "127.0.0.1", "user_agent": "Mozilla/5.0 [x]"},
            }
        },
        "metadata": {"cycle_id": "c-1", "note": "a&b=c"},
        "expand": ["latest_charge", "customer"],
    }

    assert decode_form(_as_the_sdk_sends(params)) == params


def test_sdk_booleans_arrive_as_true_and_false_strings() -> None:
    assert decode_form(_as_the_sdk_sends({"confirm": True, "off_session": False})) == {
        "confirm": "true",
        "off_session": "false",
    }


def test_arrays_of_hashes_keep_their_index_order() -> None:
    body = "items[1][price]=b&items[0][price]=a&items[10][price]=k"

    assert decode_form(body) == {"items": [{"price": "a"}, {"price": "b"}, {"price": "k"}]}


def test_empty_brackets_append_in_order() -> None:
    assert decode_form("expand[]=a&expand[]=b") == {"expand": ["a", "b"]}


def test_blank_values_are_kept_because_they_mean_unset() -> None:
    assert decode_form("description=&metadata[k]=") == {"description": "", "metadata": {"k": ""}}


def test_a_key_used_as_value_and_hash_is_refused() -> None:
    with pytest.raises(FormDecodingError):
        decode_form("metadata=x&metadata[k]=v")


def test_a_malformed_bracket_name_is_refused() -> None:
    with pytest.raises(FormDecodingError):
        decode_form("metadata[k=v")
