"""The first admin key settings: a key given by the operator must be a real key."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from toolcatalog.config import Settings


@pytest.mark.parametrize("given", ["admin", "tck_short", "tck_" + "x" * 31, "tck_" + "é" * 40])
def test_a_weak_or_malformed_admin_key_is_refused_with_how_to_make_one(given: str) -> None:
    with pytest.raises(ValidationError, match=r"secrets\.token_urlsafe"):
        Settings(admin_key=given)


def test_a_well_formed_admin_key_is_accepted() -> None:
    key = "tck_" + "A1-_" * 8
    assert Settings(admin_key=key).admin_key == key
