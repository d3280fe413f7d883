"""A generator of hostile inputs, each with what the pipeline must make of it.

Usage::

    for item in hostile_inputs(count=10_000, seed=7):
        (folder / item.name).write_bytes(item.data)
        item.expect   # Expect: articles, dead letters (by reason, by stage), or duplicate-of

Every kind is generated from a seeded RNG, so a failure reproduces, and every item's text is
unique (its index is in it) unless the kind is a duplicate. What an item must become is
declared next to how it is made, not derived from the pipeline's code.
"""

from __future__ import annotations

import dataclasses
import gzip
import json
import random
from collections.abc import Callable, Iterator

__all__ = ["KINDS", "Expect", "Hostile", "hostile_inputs", "kafka_hostile_values"]



@dataclasses.dataclass(frozen=True)
class Expect:
    """What one input must become.

    ``articles``: how many articles it yields; ``dead``: the reasons of its dead letters in
    input order (None: at least one, reasons not fixed, as for random bytes); ``duplicate_of``:
    the input whose articles it repeats exactly (it yields no record of its own).
    """

    articles: int = 0
    dead: tuple[str, ...] | None = ()
    duplicate_of: str | None = None


@dataclasses.dataclass(frozen=True)
class Hostile:
    name: str
    kind: str
    data: bytes
    expect: Expect


def _paragraph(rng: random.Random, index: int) -> str:
    words = ["The", "militias", "near", "Baghdad", "said", "on", "Monday", "that", "Iraq", "and",
             "Syria", "talks", "would", "resume", "according", "to", "Reuters", "officials"]
    body = " ".join(rng.choice(words) for _ in range(rng.randint(12, 40)))
    return f"Report {index}: {body}."


def _article(rng: random.Random, index: int, paragraphs: int | None = None) -> str:
    count = paragraphs or rng.randint(1, 4)
    body = "\n\n".join(_paragraph(rng, index * 100 + i) for i in range(count))
    return f"Headline number {index} about Iraq\n\n{body}"


def _feed_article(rng: random.Random, index: int) -> str:
    """The scraped feed's shape: header, TT, header again, body."""
    caption = f"Caption {index} in Baghdad (Reuters)"
    header = f"Feed headline {index} on Syria\n\n {caption}\n{caption}"
    return f"{header}\nTT\n\n{header}\n\n{_paragraph(rng, index)}"


Maker = Callable[[random.Random, int], tuple[str, bytes, Expect]]


def _one(text: str, suffix: str = ".txt") -> tuple[str, bytes, Expect]:
    return suffix, text.encode("utf-8"), Expect(articles=1)


KINDS: dict[str, Maker] = {
    "empty": lambda rng, i: (".txt", b"", Expect(dead=("EMPTY_INPUT",))),
    "whitespace": lambda rng, i: (".txt", rng.choice([b" ", b"\n", b"\t \r\n"]) * rng.randint(1, 500),
                                  Expect(dead=("EMPTY_INPUT",))),
    "no_break_spaces": lambda rng, i: (".txt", "\u00a0\n\u202f\n\n".encode() * rng.randint(1, 50),
                                       Expect(dead=("EMPTY_INPUT",))),
    "nul_bytes": lambda rng, i: (".txt", f"Headline {i}\n\nBody\x00 with NUL.".encode(),
                                 Expect(dead=("BINARY_INPUT",))),
    "random_binary": lambda rng, i: (
        ".bin", rng.randbytes(rng.randint(1, 6000)) + b"\x00", Expect(dead=None)
    ),
    "invalid_utf8": lambda rng, i: (".txt", f"Headline {i}\n\nCaf".encode() + b"\xe9 in Baghdad.",
                                    Expect(dead=("DECODE_ERROR",))),
    "truncated_utf8": lambda rng, i: (
        ".txt", f"Headline {i} about Iraq\n\nBody ends in ".encode() + "é".encode()[:1],
        Expect(dead=("DECODE_ERROR",)),
    ),
    "utf16": lambda rng, i: (".txt", _article(rng, i).encode("utf-16"), Expect(dead=("BINARY_INPUT",))),
    "latin1": lambda rng, i: (".txt", f"Headline {i}\n\nCafé in Baghdad, {i}.".encode("latin-1"),
                              Expect(dead=("DECODE_ERROR",))),
    "good_gzip": lambda rng, i: (".txt.gz", gzip.compress(_article(rng, i).encode()), Expect(articles=1)),
    "bad_gzip": lambda rng, i: (".txt.gz", b"not gzip " + rng.randbytes(64), Expect(dead=("READ_ERROR",))),
    "truncated_gzip": lambda rng, i: (".txt.gz", gzip.compress(_article(rng, i, 6).encode())[:-12],
                                      Expect(dead=("READ_ERROR",))),
    "lone_tt_lines": lambda rng, i: (
        ".txt", f"TT {i}\n\n".encode() + b"TT\n\n" * 2000, Expect(dead=("NO_BODY",))
    ),
    "headline_only": lambda rng, i: (".txt", f"Only a headline {i}\n".encode(), Expect(dead=("NO_BODY",))),
    "html": lambda rng, i: (".html", f"<html><body><h1>Page {i}</h1>\n\n<p>Iraq</p></body></html>".encode(),
                            Expect(articles=1)),
    "json": lambda rng, i: (".json", json.dumps({"id": i, "headline": "Iraq", "body": ["x"]}).encode(),
                            Expect(dead=("NO_BODY",))),
    "control_chars": lambda rng, i: (".txt", f"Headline {i}\n\nBody with a bell \x07 in Iraq.".encode(),
                                     Expect(dead=("BINARY_INPUT",))),
    "bidi_zero_width": lambda rng, i: _one(
        f"Headline {i} \u200f\u202eIraq\u202c\n\nBody\u200b in Baghdad \u2066x\u2069 {i}."
    ),
    "cr_only": lambda rng, i: (".txt", _article(rng, i).replace("\n", "\r").encode(), Expect(articles=1)),
    "crlf_bom": lambda rng, i: (".txt", b"\xef\xbb\xbf" + _article(rng, i).replace("\n", "\r\n").encode(),
                                Expect(articles=1)),
    "feed_articles": lambda rng, i: (
        ".txt", "\n\n".join(_feed_article(rng, i * 10 + k) for k in range(3)).encode(), Expect(articles=3)
    ),
    "mixed_good_and_bad": lambda rng, i: (
        ".txt",
        "\n\n\n".join([_article(rng, i * 10), "TT", "TT", "Lone headline", _article(rng, i * 10 + 1),
                       "Caf\udce9 broken\n\nbody"]).encode("utf-8", errors="surrogateescape"),
        Expect(articles=2, dead=("NO_BODY", "DECODE_ERROR")),
    ),
    "long_lines_of_one_paragraph": lambda rng, i: _one(
        f"Headline {i}\n\n" + " ".join(_paragraph(rng, i * 1000 + k) for k in range(rng.randint(50, 200)))
    ),
}

# Kinds made once per run, too large to make thousands of.
_LARGE = ("huge_paragraph", "many_articles", "oversized_then_good")


def _large(kind: str, rng: random.Random, index: int, max_article_bytes: int) -> tuple[str, bytes, Expect]:
    if kind == "huge_paragraph":  # 1.25 MB on one line: beyond spaCy's comfort, within the article bound
        words = " ".join(_paragraph(rng, index * 100_000 + k) for k in range(9_000))
        return ".txt", f"Huge paragraph {index}\n\n{words[:1_250_000]}".encode(), Expect(articles=1)
    if kind == "many_articles":  # 3,000 articles in one file: several slices
        text = "\n\n\n".join(_article(rng, index * 10_000 + k, 2) for k in range(3_000))
        return ".txt", text.encode(), Expect(articles=3_000)
    endless = "x " * (max_article_bytes // 2 + 10)
    text = "\n\n\n".join([f"Endless {index}\n\n{endless}", _article(rng, index * 10 + 1)])
    return ".txt", text.encode(), Expect(articles=1, dead=("TOO_LARGE",))


def hostile_inputs(count: int, seed: int, max_article_bytes: int) -> Iterator[Hostile]:
    """``count`` inputs over every kind (and a duplicate of an earlier input every so often)."""
    rng = random.Random(seed)
    kinds = sorted(KINDS)
    made: list[Hostile] = []
    for index in range(count):
        if index < len(_LARGE):
            kind = _LARGE[index]
            suffix, data, expect = _large(kind, rng, index, max_article_bytes)
        elif index % 97 == 0 and made:
            original = next(
                h for h in reversed(made) if h.expect == Expect(articles=1) and h.kind != "good_gzip"
            )
            item = Hostile(
                f"{index:05d}-duplicate.txt", "duplicate", original.data, Expect(duplicate_of=original.name)
            )
            made.append(item)
            yield item
            continue
        else:
            kind = kinds[index % len(kinds)]
            suffix, data, expect = KINDS[kind](rng, index)
        item = Hostile(f"{index:05d}-{kind}{suffix}", kind, data, expect)
        made.append(item)
        yield item


def kafka_hostile_values(count: int, seed: int) -> Iterator[tuple[bytes | None, bytes | None, str, Expect]]:
    """(key, value, kind, expect) for hostile Kafka messages: null values, binary, oversized, odd keys."""
    rng = random.Random(seed)
    keys: list[bytes | None] = [None, b"", b"\x00\xff", "ключ".encode(), b"k" * 5000]
    for index in range(count):
        key = keys[index % len(keys)]
        choice = index % 8
        if choice == 0:
            yield key, None, "null_value", Expect(dead=("EMPTY_INPUT",))
        elif choice == 1:
            yield key, rng.randbytes(rng.randint(1, 100_000)) + b"\x00", "binary", Expect(dead=None)
        elif choice == 2:
            yield key, b"TT\n\n" * 500, "lone_tt_lines", Expect(dead=("NO_BODY",))
        elif choice == 3 and index % 100 == 3:  # near the broker's 1 MB message limit, one paragraph
            # read and enriched whole, but with its entities too large for the output topic
            paragraph = " ".join(_paragraph(rng, index * 10_000 + k) for k in range(5_000))[:900_000]
            huge = f"Headline {index} huge\n\n{paragraph}".encode()
            yield key, huge, "too_large_for_output", Expect(dead=("TOO_LARGE",))
        elif choice == 3:
            yield key, _article(rng, index, 40).encode(), "large_article", Expect(articles=1)
        elif choice == 4:
            yield key, b"", "empty", Expect(dead=("EMPTY_INPUT",))
        elif choice == 5:
            invalid = f"Headline {index}\n\nCaf".encode() + b"\xe9."
            yield key, invalid, "invalid_utf8", Expect(dead=("DECODE_ERROR",))
        elif choice == 6:
            yield key, _article(rng, index).encode("utf-16"), "utf16", Expect(dead=("BINARY_INPUT",))
        else:
            yield key, _article(rng, index).encode(), "good", Expect(articles=1)
