"""Signed tokens: one valid spelling each, and nothing forged, altered or misused passes."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from chronodelta.server._signing import TokenSigner

SIGNER = TokenSigner(b"s" * 32)


def test_a_token_verifies_for_its_purpose_only() -> None:
    token = SIGNER.sign("page", {"k": [1, 2]})
    assert SIGNER.verify("page", token) == {"p": "page", "k": [1, 2]}
    assert SIGNER.verify("delta", token) is None
    assert TokenSigner(b"t" * 32).verify("page", token) is None


@given(st.integers(min_value=0), st.characters(categories=["L", "N"]) | st.sampled_from("-_"))
def test_any_single_character_change_is_refused(position: int, replacement: str) -> None:
    token = SIGNER.sign("page", {"k": [7]})
    index = position % len(token)
    changed = token[:index] + replacement + token[index + 1 :]
    if changed != token:
        assert SIGNER.verify("page", changed) is None


@given(st.text(max_size=300))
def test_arbitrary_text_is_refused_without_error(text: str) -> None:
    assert SIGNER.verify("page", text) is None
