"""Hypothesis strategies for text that has broken other systems.

Right-to-left overrides and zero-width characters (invisible, reorder what is shown),
markup and script, SQL, format strings and template syntax, line and paragraph separators
that ``str.splitlines`` breaks on, combining characters, emoji and astral-plane text.
None of it may change what is stored: it is either refused with a clear error or read
back exactly.
"""

from __future__ import annotations

from hypothesis import strategies as st

NASTY = [
    "<script>alert('x')</script>",
    '"><img src=x onerror=alert(1)>',
    "javascript:alert(document.cookie)",
    "'; DROP TABLE prompts; --",
    "Robert'); DROP TABLE judgments;--",
    "1' OR '1'='1",
    "%s %d %n {0} {} {{7*7}} ${jndi:ldap://x/a}",
    "$(rm -rf /) `id`",
    "\u202eevil.exe\u202c",          # right-to-left override
    "\u200f\u200e\u061c",             # RTL / LTR / Arabic letter marks
    "\u200b\u200c\u200d\u2060\ufeff",  # zero-width space, joiners, word joiner, BOM
    "مرحبا بالعالم",
    "שלום עולם",
    "line\u2028separator\u2029paragraph\x85next\x0bvt\x0cff\x1cfs",
    "\r\n\t",
    "e\u0301 \u0041\u030a Z\u0335\u0321\u0317",  # combining marks
    "😀👍🏽👨‍👩‍👧 𝕳𝖊𝖑𝖑𝖔 \U0010fffd",
    "NULL", "None", "null", "undefined", "true",
    "../../etc/passwd", "C:\\Windows\\system32",
    "\\", '"', "'", "`", "\\u0000", "<!--", "]]>", "\\n",
]

# Any Unicode scalar value except NUL (PostgreSQL text cannot hold it; it is refused with
# its own error, tested separately). Surrogates are not scalar values.
_CHARACTERS = st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00")

hostile_text = st.one_of(
    st.sampled_from(NASTY),
    st.text(_CHARACTERS, min_size=1, max_size=30),
    st.lists(st.one_of(st.sampled_from(NASTY), st.text(_CHARACTERS, max_size=4)),
             min_size=1, max_size=4).map("".join),
)


def _is_name(text: str) -> bool:
    return bool(text.strip()) and len(text.strip()) <= 200


# What the importers accept as an id or a name: non-blank after strip, at most 200 characters.
hostile_name = hostile_text.filter(_is_name)

json_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-(10**20), 10**20),
    st.floats(allow_nan=False, allow_infinity=False), hostile_text,
)
json_values = st.recursive(
    json_scalars,
    lambda children: st.one_of(st.lists(children, max_size=3),
                               st.dictionaries(hostile_text, children, max_size=3)),
    max_leaves=6,
)
