from calhousing.secret_init import ALPHABET, random_values


def test_each_key_gets_its_own_random_value_safe_inside_a_url() -> None:
    first, second = random_values(["password", "predlog-password"]), random_values(["password"])

    assert set(first) == {"password", "predlog-password"}
    assert first["password"] != first["predlog-password"] != second["password"]
    assert all(len(v) == 32 and set(v) <= set(ALPHABET) for v in first.values())
