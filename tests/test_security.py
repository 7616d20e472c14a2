from review.auth.passwords import hash_password, verify_password


def test_hash_is_salted_and_verifies():
    first, second = hash_password("s3cret"), hash_password("s3cret")
    assert first != second  # a per-user random salt
    assert first.startswith("scrypt$") and "s3cret" not in first
    assert verify_password("s3cret", first) and verify_password("s3cret", second)
    assert not verify_password("S3cret", first)
    assert not verify_password("s3cret", None)
    assert not verify_password("s3cret", "garbage")
