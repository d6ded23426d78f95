"""The template functions for the catalog template renderer (gotemplate): Go's builtins
and the sprig functions catalog templates use, over the values of :mod:`.govalues`.

Values follow Go's text/template rules as far as templates can see them: ``None`` is a
missing value (printed ``<no value>``), truth is Go's (empty text, 0, false, nil, empty list
or map are false), ``eq`` refuses to compare different kinds, ``printf`` prints ``%!d(...)``
for a bad argument instead of failing. Functions raise GoError for what Go reports as an
error calling a function; the renderer adds file and line.

Every value a function builds is bounded before it is built: text at MAX_TEXT characters,
lists at MAX_ITEMS items (``replace`` works out its result's length first, ``printf``
counts as it goes), so no template can make one value of a billion characters.

Answers are marked: :class:`AnswerText` (and :class:`AnswerList`, :class:`AnswerMap`) are
``str``, ``list`` and ``dict`` that remember which answers (``.Values`` variables) they
hold; the renderer marks what functions build from them, so it knows where answers land
in its output.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Mapping
from typing import Any

from catalog_server.manifests.govalues import (
    MAX_ITEMS,
    MAX_UNTIL,
    MAX_WIDTH,
    GoError,
    StringMap,
    and_,
    check_length,
    check_text,
    eq,
    ge,
    go_quote,
    go_text,
    go_type,
    gt,
    le,
    lt,
    ne,
    or_,
    truth,
)

# --- Builtins and sprig ------------------------------------------------------------------------


def length(value: Any) -> int:
    if isinstance(value, str):
        return len(value.encode("utf-8"))  # Go's len counts bytes
    if isinstance(value, list | tuple | Mapping):
        return len(value)
    raise GoError(f"len of type {go_type(value)}")


def index(item: Any, *keys: Any) -> Any:
    for key in keys:
        if isinstance(item, list | tuple | str):
            if not isinstance(key, int) or isinstance(key, bool):
                raise GoError(f"cannot index slice/array with type {go_type(key)}")
            if not 0 <= key < len(item):
                raise GoError(f"index out of range: {key}")
            item = item[key] if not isinstance(item, str) else item.encode("utf-8")[key]
        elif isinstance(item, Mapping):
            if not isinstance(key, str):
                raise GoError(f"value has type {go_type(key)}; should be string")
            item = item.get(key, "" if isinstance(item, StringMap) else None)
        elif item is None:
            raise GoError("index of untyped nil")
        else:
            raise GoError(f"can't index item of type {go_type(item)}")
    return item


def _text(value: Any, function: str) -> str:
    if not isinstance(value, str):
        raise GoError(f"{function} expects a string, got {go_type(value)}")
    return value


def _int(value: Any) -> int:
    """sprig's toInt64: numbers truncate, text parses (0 when it does not), nil is 0."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int | float):
        return int(value)
    if isinstance(value, str):
        try:
            return int(float(value)) if "." in value else int(value, 0)
        except ValueError:
            return 0
    return 0


def atoi(value: Any) -> int:
    """sprig atoi: strconv.Atoi, and 0 when the text is not a whole number."""
    text = _text(value, "atoi")
    return int(text) if re.fullmatch(r"[+-]?\d{1,18}", text) else 0


def until(count: Any) -> list[int]:
    if not isinstance(count, int) or isinstance(count, bool):
        raise GoError(f"until expects an int, got {go_type(count)}")
    if abs(count) > MAX_UNTIL:
        raise GoError(f"until {count} is larger than the limit of {MAX_UNTIL}")
    return list(range(0, count, 1 if count >= 0 else -1))


def split_preserve_quotes(value: Any) -> list[str]:
    """Rancher's splitPreserveQuotes: split on spaces outside quotes, keeping the quotes."""
    text = _text(value, "splitPreserveQuotes")
    if text.count(" ") + text.count("\t") + text.count("\n") >= MAX_ITEMS:
        raise GoError(f"splitPreserveQuotes would build more than {MAX_ITEMS} items")
    pieces: list[str] = []
    buffer: list[str] = []
    in_quotes = False
    for i, char in enumerate(text):
        if char in "\"'\u201c\u201d\u2018\u2019":
            in_quotes = not in_quotes
        last = i == len(text) - 1
        if (char.isspace() and not in_quotes) or last:
            if last:
                buffer.append(char)
            pieces.append("".join(buffer))
            buffer = []
        else:
            buffer.append(char)
    return pieces


def contains(substring: Any, text: Any) -> bool:
    return _text(substring, "contains") in _text(text, "contains")


def default(fallback: Any, *given: Any) -> Any:
    return given[0] if given and truth(given[0]) else fallback


def go_print(*args: Any) -> str:
    """fmt.Sprint: a space between operands when neither is a string."""
    out = []
    for i, arg in enumerate(args):
        if i and not isinstance(arg, str) and not isinstance(args[i - 1], str):
            out.append(" ")
        out.append(go_text(arg))
    check_length(sum(map(len, out)), "print")
    return "".join(out)


def go_println(*args: Any) -> str:
    texts = [go_text(a) for a in args]
    check_length(sum(map(len, texts)) + len(texts), "println")
    return " ".join(texts) + "\n"


def quote(*args: Any) -> str:
    texts = [go_quote(go_text(x)) for x in args if x is not None]
    check_length(sum(map(len, texts)) + len(texts), "quote")
    return " ".join(texts)


def replace(old: Any, new: Any, text: Any) -> str:
    """strings.ReplaceAll, its result's length worked out (and bounded) before it is built."""
    old, new, text = _text(old, "replace"), _text(new, "replace"), _text(text, "replace")
    count = len(text) + 1 if old == "" else text.count(old)
    check_length(len(text) + count * (len(new) - len(old)), "replace")
    return text.replace(old, new)


_VERB = re.compile(r"%([-+# 0]*)(\d+)?(?:\.(\d*))?(.?)", re.DOTALL)


def printf(fmt: Any, *args: Any) -> str:
    """fmt.Sprintf for the verbs catalog templates use: %s %d %v %q %t %f %x %c %%."""
    pattern = _text(fmt, "printf")
    out: list[str] = []
    size = 0

    def add(piece: str) -> None:
        nonlocal size
        size += len(piece)
        check_length(size, "printf")
        out.append(piece)

    pos = used = 0
    for match in _VERB.finditer(pattern):
        add(pattern[pos : match.start()])
        pos = match.end()
        flags, width, precision, verb = match.groups()
        if verb == "%":
            add("%")
            continue
        if not verb:
            add("%!(NOVERB)")
            continue
        if used >= len(args):
            add(f"%!{verb}(MISSING)")
            continue
        arg = args[used]
        used += 1
        if int(width or 0) > MAX_WIDTH or int(precision or 0) > MAX_WIDTH:
            raise GoError(f"printf width or precision over {MAX_WIDTH}")
        add(_format_one(verb, flags, width, precision, arg))
    add(pattern[pos:])
    if used < len(args):
        extra = ", ".join(f"{go_type(a)}={go_text(a)}" for a in args[used:])
        add(f"%!(EXTRA {extra})")
    return "".join(out)


def _format_one(verb: str, flags: str, width: str | None, precision: str | None, arg: Any) -> str:
    is_int = isinstance(arg, int) and not isinstance(arg, bool)
    if verb in "sv" and (verb == "v" or isinstance(arg, str | list | tuple | Mapping)):
        body = go_text(arg)
        if precision is not None and isinstance(arg, str):
            body = body[: int(precision or 0)]
    elif verb == "q" and isinstance(arg, str):
        body = go_quote(arg)
    elif verb == "t" and isinstance(arg, bool):
        body = go_text(arg)
    elif verb == "d" and is_int:
        body = f"{arg:+d}" if "+" in flags else str(arg)
    elif verb in "xX" and (is_int or isinstance(arg, str)):
        body = format(arg, "x") if is_int else arg.encode("utf-8").hex()
        body = body.upper() if verb == "X" else body
    elif verb in "fF" and isinstance(arg, float):
        digits = 6 if precision is None else int(precision or 0)
        body = format(arg, f"{'+' if '+' in flags else ''}.{digits}f")
    elif verb == "c" and is_int and 0 <= arg <= 0x10FFFF:
        body = chr(arg)
    else:
        shown = "<nil>" if arg is None else f"{go_type(arg)}={go_text(arg)}"
        return f"%!{verb}({shown})"
    if width:
        size = int(width)
        if "-" in flags:
            body = body.ljust(size)
        elif "0" in flags and verb in "dxXfF":
            sign = body[0] if body[:1] in "+-" else ""
            body = sign + body[len(sign) :].rjust(size - len(sign), "0")
        else:
            body = body.rjust(size)
    return body


FUNCTIONS: dict[str, Callable[..., Any]] = {
    # text/template builtins
    "and": and_, "or": or_, "not": lambda value: not truth(value),
    "eq": eq, "ne": ne, "lt": lt, "le": le, "gt": gt, "ge": ge,
    "len": length, "index": index, "printf": printf, "print": go_print,
    "println": go_println,
    # sprig functions seen in catalog templates, and Rancher's own
    "contains": contains, "atoi": atoi, "until": until, "default": default,
    "splitPreserveQuotes": split_preserve_quotes,
    "add1": lambda v: _int(v) + 1, "add": lambda *v: sum(_int(x) for x in v),
    "sub": lambda a, b: _int(a) - _int(b), "int": _int,
    "toString": lambda v: v if isinstance(v, str) else check_text(go_text(v), "toString"),
    "quote": quote,
    "upper": lambda v: check_text(_text(v, "upper").upper(), "upper"),
    "lower": lambda v: check_text(_text(v, "lower").lower(), "lower"),
    "trim": lambda v: _text(v, "trim").strip(),
    "replace": replace,
    "hasPrefix": lambda p, s: _text(s, "hasPrefix").startswith(_text(p, "hasPrefix")),
    "hasSuffix": lambda p, s: _text(s, "hasSuffix").endswith(_text(p, "hasSuffix")),
}  # fmt: skip

SIGNATURES = {name: inspect.signature(function) for name, function in FUNCTIONS.items()}


def call(name: str, args: list[Any]) -> Any:
    """Call a template function; GoError for a wrong argument count or a failing call."""
    try:
        SIGNATURES[name].bind(*args)
    except TypeError:
        raise GoError(f"wrong number of args for {name}") from None
    return FUNCTIONS[name](*args)
