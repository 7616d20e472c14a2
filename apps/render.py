"""Model output and prompts as safe HTML: markdown and code rendered, raw HTML shown as text.

Raw HTML in model output is escaped, never interpreted (markdown-it with ``html=False``),
links to ``javascript:`` and similar schemes are refused by markdown-it's link validation,
and images are not loaded (shown as their markdown text) so that an answer cannot make
the reviewer's browser fetch anything.

Example::

    render_markdown("<script>alert(1)</script> **bold**")
    # '<p>&lt;script&gt;alert(1)&lt;/script&gt; <strong>bold</strong></p>\\n'
"""

from __future__ import annotations

import html
from functools import lru_cache

ROLE_LABELS = {"system": "System", "user": "User", "assistant": "Assistant"}


@lru_cache(maxsize=2)
def _markdown(breaks: bool = True):  # noqa: ANN202 - markdown_it.MarkdownIt
    """The renderer; ``breaks``: a single line break is a line break (model output, where a
    model's line breaks are meant), else a space (Markdown as written by people, whose lines
    are wrapped by their editor)."""
    from markdown_it import MarkdownIt

    md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False,
                                   "highlight": _highlight, "breaks": breaks})
    md.enable(["table", "strikethrough"])
    md.disable("image")
    md.add_render_rule("link_open", _link_open)
    return md


def _link_open(self, tokens, idx, options, env):  # noqa: ANN001, ANN202 - markdown-it renderer rule
    # A link in an answer opens in a new tab and tells the target nothing about this page.
    tokens[idx].attrSet("target", "_blank")
    tokens[idx].attrSet("rel", "noopener noreferrer nofollow")
    return self.renderToken(tokens, idx, options, env)


def code_css(scope: str = ".answer-body") -> str:
    """CSS for :func:`render_markdown`'s code blocks inside ``scope``: one plain block each,
    with pygments' syntax colours when it is installed.

    Only pygments' token colours are kept: its background on ``pre code`` (an inline
    element) painted a faint box behind every line, its ``.err`` rule a red box around
    every character a lexer does not know, and its unscoped rules (``pre``) would reach
    the rest of the page.
    """
    block = (f"{scope} pre code {{ display: block; background: none; border: 0; padding: 0; "
             f"border-radius: 0; box-shadow: none; }}\n"
             f"{scope} pre code span {{ background: none; border: 0; padding: 0; }}")
    try:
        from pygments.formatters import HtmlFormatter
    except ImportError:
        return block
    token = f"{scope} pre code ."
    defs = HtmlFormatter(style="default").get_style_defs(f"{scope} pre code")
    colours = [rule for rule in defs.splitlines()
               if rule.startswith(token) and not rule.startswith((token + "hll ", token + "err "))]
    return "\n".join([*colours, block])


def _highlight(code: str, language: str, _attrs: str) -> str:
    """Syntax colours for fenced code with a known language; '' lets markdown-it escape it."""
    if not language:
        return ""
    try:
        from pygments import highlight
        from pygments.formatters import HtmlFormatter
        from pygments.lexers import get_lexer_by_name
        from pygments.util import ClassNotFound
    except ImportError:
        return ""
    try:
        lexer = get_lexer_by_name(language, stripall=False)
    except ClassNotFound:
        return ""
    # nowrap: markdown-it adds the <pre><code>; pygments escapes the code itself.
    return highlight(code, lexer, HtmlFormatter(nowrap=True, classstyle=True))


def render_markdown(text: str | None) -> str:
    """Markdown to HTML with every piece of raw HTML escaped."""
    return _markdown().render(text or "")


def render_answer(text: str | None, label: str) -> str:
    """One answer under its label ("A" or "B"), for the side-by-side view."""
    return (f'<div class="answer-card"><div class="answer-label">{html.escape(label)}</div>'
            f'<div class="answer-body">{render_markdown(text)}</div></div>')


def render_reference(text: str | None) -> str:
    """A prompt's reference answer, shown above the two answers ('' when it has none)."""
    if not text:
        return ""
    return (f'<details class="prompt-reference" open><summary>Reference answer (from the prompt set; '
            f'trust it where the answers disagree with it)</summary>'
            f'<div class="answer-body">{render_markdown(text)}</div></details>')


def render_conversation(messages: list[dict[str, str]]) -> str:
    """A prompt (a chat of one or more turns) as a conversation."""
    turns = []
    for message in messages:
        role = str(message.get("role", "user"))
        label = ROLE_LABELS.get(role, "Message")
        css_role = role if role in ROLE_LABELS else "other"
        turns.append(f'<div class="turn turn-{css_role}"><div class="turn-role">{html.escape(label)}</div>'
                     f'<div class="turn-content">{render_markdown(message.get("content", ""))}</div></div>')
    return f'<div class="conversation">{"".join(turns)}</div>'


def render_guidelines(text: str | None) -> str:
    """A study's guidelines as Markdown: the lines of a paragraph joined (as Markdown reads
    them: guidelines are wrapped by whoever wrote them), lists and emphasis kept, raw HTML
    shown as text."""
    if not text or not text.strip():
        return '<div class="guidelines"><p>No guidelines were written for this study.</p></div>'
    return f'<div class="guidelines">{_markdown(breaks=False).render(text)}</div>'
