"""The hostile corpus: strings that try to break out of every context a spec value can land in.

Each entry is ``(label, text)``. Labels are stable, so a failure names the payload without printing
100 kB of it. Lone surrogates are left out: a UTF-8 YAML file cannot carry them.
"""

from __future__ import annotations

import unicodedata

_VI = "Mã hồ sơ thủ tục hành chính: Đồng bộ trạng thái xử lý"
_CANARY = "touch CANARY"

# --- quotes and backslashes -------------------------------------------------------------------
QUOTES = [
    ("single-quote", "'"),
    ("double-quote", '"'),
    ("triple-single", "'''"),
    ("triple-double", '"""'),
    ("mixed-quotes", "\"'\"'\"'"),
    ("escaped-quote", '\\"'),
    ("quote-backslash-end", 'a"\\'),
    ("trailing-backslash", "text\\"),
    ("double-backslash", "\\\\"),
    ("triple-backslash-end", "x\\\\\\"),
    ("backslash-n-literal", "\\n"),
    ("backslash-u", "\\u0041\\x41\\101"),
    ("n-escape", "\\N{BULLET}"),
    ("n-escape-open", "\\N{"),
    ("n-escape-bad", "\\N{NO SUCH NAME}"),
    ("windows-path", "C:\\new\\table\\x"),
    ("raw-string-trap", "r'\\'"),
    ("bytes-prefix", "b'\\xff'"),
    ("quote-in-vi", f'{_VI} "trích dẫn" \'x\''),
    ("triple-in-vi", f'{_VI} """ \'\'\''),
]

# --- line breaks, controls, invisible characters ----------------------------------------------
BREAKS = [
    ("lf", "\n"),
    ("lf-mid", "first line\nsecond line"),
    ("cr", "\r"),
    ("cr-mid", "a\rb"),
    ("crlf", "a\r\nb"),
    ("lf-lf", "a\n\nb"),
    ("u2028", "a\u2028b"),
    ("u2029", "a\u2029b"),
    ("nel", "a\x85b"),
    ("tab", "a\tb"),
    ("tab-start", "\tindented"),
    ("vt", "a\x0bb"),
    ("ff", "a\x0cb"),
    ("nul", "a\x00b"),
    ("esc-ansi", "\x1b[31mred\x1b[0m"),
    ("bell", "\x07"),
    ("backspace", "abc\x08\x08\x08xyz"),
    ("del", "a\x7fb"),
    ("c0-all", "".join(chr(c) for c in range(1, 32) if c not in (9, 10, 13))),
    ("c1-csi", "a\x9b31mb"),
    ("c1-all", "".join(chr(c) for c in range(0x80, 0xA0))),
    ("bom-start", "\ufeffstart"),
    ("bom-mid", "mid\ufeffdle"),
    ("zwsp", "Ma\u200bHoSo"),
    ("zwnj-zwj", "a\u200cb\u200dc"),
    ("word-joiner", "a\u2060b"),
    ("soft-hyphen", "a\u00adb"),
    ("lrm-rlm", "a\u200eb\u200fc"),
    ("rlo", "user\u202egnp.exe"),
    ("lre-rle-pdf", "\u202aa\u202bb\u202c"),
    ("lro", "\u202dx"),
    ("lri-rli-fsi-pdi", "\u2066a\u2067b\u2068c\u2069"),
    ("trojan-source", 'access = "user\u202e \u2066// admin\u2069 \u2066"'),
    ("arabic-letter-mark", "a\u061cb"),
    ("mongolian-vs", "a\u180eb"),
    ("invisible-times", "a\u2062b"),
    ("interlinear", "\ufff9a\ufffab\ufffb"),
    ("tag-chars", "x\U000e0041\U000e0042\U000e007f"),
    ("noncharacters", "a\ufffeb\uffffc"),
    ("replacement", "\ufffd"),
    ("private-use", "\ue000\U000f0000"),
    ("max-codepoint", "\U0010ffff"),
    ("variation-selector", "a\ufe0fb"),
]

# --- template languages and format strings ----------------------------------------------------
TEMPLATES = [
    ("jinja-expr", "{{ 7*7 }}"),
    ("jinja-stmt", "{% for x in range(3) %}{{ x }}{% endfor %}"),
    ("jinja-raw", "{% raw %}{{ x }}{% endraw %}"),
    ("jinja-endraw", "{% endraw %}"),
    ("jinja-comment", "{# hidden"),
    ("jinja-open", "{{"),
    ("jinja-close", "}}"),
    ("jinja-ssti", "{{ cycler.__init__.__globals__.os.popen('touch CANARY').read() }}"),
    ("jinja-ssti-self", "{{ self.__init__.__globals__.__builtins__ }}"),
    ("jinja-trim", "{%- if true -%}x{%- endif -%}"),
    ("jinja-line", "# for x in y"),
    ("fstring-braces", "{}"),
    ("fstring-expr", "{__import__('os').system('touch CANARY')}"),
    ("format-index", "{0}{1!r:>10}"),
    ("format-attr", "{0.__class__.__mro__}"),
    ("percent-format", "%s %(x)s %d %%"),
    ("dollar", "$x ${x} $(touch CANARY) `touch CANARY`"),
    ("braces-unbalanced", "}{"),
]

# --- code injection -------------------------------------------------------------------------
INJECTIONS = [
    ("newline-import", "\n import os"),
    ("newline-import-flush", "\nimport os\nos.system('touch CANARY')\n"),
    ("close-call", '"); os.system("touch CANARY"); ("'),
    ("close-call-single", "'); os.system('touch CANARY'); ('"),
    ("close-triple", '"""; import os; os.system("touch CANARY"); """'),
    ("close-triple-single", "'''; import os; os.system('touch CANARY'); '''"),
    ("close-field", '", examples=["x"], default=__import__("os").system("touch CANARY"), description="'),
    ("close-bracket", ")]\nimport os\nos.system('touch CANARY')\n#"),
    ("close-class", '"\n\nclass Evil:\n    __import__("os").system("touch CANARY")\n'),
    ("backslash-quote-escape", '\\"; __import__("os").system("touch CANARY") #'),
    ("comment-hash", '" # comment'),
    ("docstring-break", '\\"""\nimport os\n"""'),
    ("dunder-import", "__import__('os').system('touch CANARY')"),
    ("eval", "eval(compile('import os','x','exec'))"),
    ("lambda", "(lambda: __import__('os').system('touch CANARY'))()"),
    ("walrus", "(x := __import__('os'))"),
    ("cr-import", "x\rimport os\r"),
    ("u2028-import", "x\u2028import os\u2028"),
    ("ff-import", "x\x0cimport os"),
    ("coding-utf7", "coding:utf-7 +ACcAOw-__import__(+ACc-os+ACc-).system(+ACc-touch CANARY+ACc-)+ADsAIw-"),
    ("coding-emacs", "-*- coding: latin-1 -*-"),
    ("coding-vim", "vim: set fileencoding=utf-7 :"),
    ("coding-equals", "coding=rot13"),
    ("shebang", "#!/bin/sh\ntouch CANARY"),
    ("type-comment", "# type: ignore"),
    ("noqa", "# noqa: E501"),
    ("pydantic-alias", "alias='x'"),
    ("null-in-repr", "\\x00"),
    ("semicolon-chain", "; import os; os.system('touch CANARY');"),
    ("toml-break", '"\n[tool.evil]\ncommand = "touch CANARY"'),
    ("toml-triple", "'''\n[project]\nname = 'evil'"),
    ("json-break", '"}, "evil": {"$ref": "http://evil.example/x.json'),
    ("json-unicode", '\\u0022}'),
    ("yaml-tag-text", '!!python/object/apply:os.system ["touch CANARY"]'),
    ("yaml-doc", "---\n...\n%YAML 1.1"),
    ("yaml-anchor-text", "&a *a <<: *a"),
    ("shell", "$(touch CANARY); `touch CANARY`; | touch CANARY && touch CANARY"),
    ("sql", "'; DROP TABLE hoso; --"),
    ("path-traversal", "../../../../etc/passwd"),
    ("path-absolute", "/etc/passwd"),
    ("path-windows", "C:\\Windows\\System32\\cmd.exe"),
    ("path-device", "CON"),
    ("path-unc", "\\\\?\\C:\\x"),
    ("header-crlf", "x\r\nX-Injected: 1"),
    ("regex-meta", "^(a+)+$.*[]{}()|\\"),
    ("ref-pointer", "#/$defs/WireInteger"),
]

# --- HTML, script and Markdown ----------------------------------------------------------------
MARKUP = [
    ("script", "</script><script>alert(1)</script>"),
    ("img-onerror", '<img src=x onerror="alert(1)">'),
    ("svg-onload", "<svg/onload=alert(1)>"),
    ("iframe", "<iframe src=javascript:alert(1)></iframe>"),
    ("details", "<details open ontoggle=alert(1)>"),
    ("a-href-js", '<a href="javascript:alert(1)">x</a>'),
    ("style", "<style>*{display:none}</style>"),
    ("html-comment-open", "<!--"),
    ("html-comment-close", "-->"),
    ("html-comment-close-3", "--->"),
    ("html-comment-bang", "--!>"),
    ("html-comment-full", "<!-- x --> <b>y</b>"),
    ("cdata", "<![CDATA[x]]>"),
    ("processing", "<?php system('touch CANARY'); ?>"),
    ("entity", "&lt;script&gt; &#x3C;img&#x3E; &amp; &#0;"),
    ("br", "a<br>b"),
    ("md-pipe", "|"),
    ("md-pipe-mid", "a | b | c"),
    ("md-pipe-escaped", "a \\| b"),
    ("md-table-rule", "|---|---|"),
    ("md-table-row", "| x | y |\n|---|---|\n| 1 | 2 |"),
    ("md-heading", "# Heading"),
    ("md-heading-h2", "## Sub"),
    ("md-heading-closing", "Title ##"),
    ("md-heading-closing-only", "#"),
    ("md-setext-eq", "==="),
    ("md-setext-dash", "---"),
    ("md-hr", "***"),
    ("md-list-dash", "- item"),
    ("md-list-star", "* item"),
    ("md-list-plus", "+ item"),
    ("md-list-ordered", "1. item"),
    ("md-list-paren", "1) item"),
    ("md-quote", "> quote"),
    ("md-indented-code", "    code block"),
    ("md-fence", "```\ncode\n```"),
    ("md-fence-tilde", "~~~"),
    ("md-code-span", "`code`"),
    ("md-backtick", "`"),
    ("md-backticks-run", "a``b```c"),
    ("md-link-js", "[x](javascript:alert(1))"),
    ("md-link-js-encoded", "[x](jav&#x61;script:alert(1))"),
    ("md-image-js", "![x](javascript:alert(1))"),
    ("md-image-remote", "![t](http://evil.example/track.png)"),
    ("md-ref-def", "[x]: javascript:alert(1)"),
    ("md-ref-use", "[x][y]"),
    ("md-autolink", "<javascript:alert(1)>"),
    ("md-autolink-http", "<http://evil.example>"),
    ("md-bare-url", "https://evil.example/?q=1"),
    ("md-emphasis", "*em* **strong** _u_ __uu__"),
    ("md-strike", "~~struck~~"),
    ("md-footnote", "[^1]"),
    ("md-hard-break", "line  "),
    ("md-backslash-break", "line\\"),
    ("md-html-in-code", "`<script>`"),
    ("md-leading-spaces", "   # x"),
    ("md-only-space", " "),
    ("md-nbsp", "\u00a0"),
    ("md-task", "- [ ] task"),
    ("md-math", "$$x$$"),
    ("md-emoji", ":warning:"),
]

# --- Unicode oddities -------------------------------------------------------------------------
UNICODE = [
    ("nfd-vietnamese", unicodedata.normalize("NFD", _VI)),
    ("nfc-vietnamese", _VI),
    ("combining-alone", "\u0301\u0323"),
    ("zalgo", "Z\u0351\u036b\u0343\u036a\u0302\u036b\u033d\u034f\u0334\u0319\u0324\u031e\u0349\u035a\u032f\u031e\u0320\u034da"),
    ("fullwidth-tags", "＜script＞alert(1)＜/script＞"),
    ("fullwidth-digits", "１２"),
    ("superscript-digits", "²³"),
    ("arabic-indic-digits", "٣"),
    ("homoglyph", "МaНoSo"),
    ("emoji", "😀"),
    ("emoji-zwj", "👨\u200d👩\u200d👧"),
    ("math-alnum", "𝕏𝕪𝕫"),
    ("rtl-arabic", "مرحبا بالعالم"),
    ("rtl-hebrew", "שלום"),
    ("cjk", "漢字テスト"),
    ("dotted-i", "İı"),
    ("sharp-s", "ß ẞ"),
    ("ligature", "ﬁ ﬀ"),
    ("final-sigma", "ΣΑΣ"),
    ("ideographic-space", "a\u3000b"),
    ("em-space", "a\u2003b"),
    ("hangul-filler", "\u3164"),
    ("braille-blank", "\u2800"),
]

# --- Very long strings ------------------------------------------------------------------------
# Long values: 100 kB each, with the attack spread through them rather than packed (dense markup
# is the short payloads' job; here the point is size: truncation, buffers, quadratic escaping).
LONG = [
    ("long-ascii", "A" * 100_000),
    ("long-vietnamese", (_VI + " ") * (100_000 // (len(_VI) + 1))),
    ("long-quotes", ("x" * 95 + '"""\\\n') * 1_000),
    ("long-markup", ("y" * 988 + "<script>|`*_") * 100),
    ("long-injection-tail", "x" * 99_950 + "\"); os.system('touch CANARY')"),
]

# Combinations: each core attack also embedded in ordinary Vietnamese text and at the edges.
_CORE = [
    "\"\"\"", "'", "\\", "\n", "\r", "\u2028", "{{ 7*7 }}", "{% if %}", "}", "|", "<script>", "`", "#", "[x](javascript:a)",
    "\u202e", "\u200b", "\ufeff", "\x85", "--->", "\"); os.system(\"touch CANARY\"); (\"",
]
COMBINED = (
    [(f"in-vi-{i}", f"{_VI} {c} {_VI}") for i, c in enumerate(_CORE)]
    + [(f"end-{i}", f"{_VI}{c}") for i, c in enumerate(_CORE)]
    + [(f"start-{i}", f"{c}{_VI}") for i, c in enumerate(_CORE)]
)

PAYLOADS: list[tuple[str, str]] = QUOTES + BREAKS + TEMPLATES + INJECTIONS + MARKUP + UNICODE + LONG + COMBINED

assert len({label for label, _ in PAYLOADS}) == len(PAYLOADS), "payload labels must be unique"
assert len({text for _, text in PAYLOADS}) == len(PAYLOADS), "payloads must be distinct"
assert not any(0xD800 <= ord(ch) <= 0xDFFF for _, text in PAYLOADS for ch in text)
