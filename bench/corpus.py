"""A benchmark corpus made from the sample: many distinct articles in the feed's own format.

Each generated article takes the headline and captions of one sample article and a
shuffled order of its body paragraphs, with a serial number in the headline, so no two are
identical (the dedup stage keeps all of them) while the text the model reads stays real
news text.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import random
from collections.abc import Iterator
from pathlib import Path

from newswire.pipelines.parse import parse_input
from newswire.schemas.records import Article, RawInput, Source

__all__ = ["SEEDS", "generate_articles", "render_feed", "sample_articles", "write_corpus"]

# The seed sample ships in the package (newswire.seeds), so the bench runs from an installed wheel.
SEEDS = Path(next(iter(importlib.util.find_spec("newswire.seeds").submodule_search_locations)))


def sample_articles(seeds: Path) -> list[Article]:
    """The articles of every seed file, parsed by the pipeline's own parser."""
    articles = []
    for path in sorted(seeds.iterdir()):
        raw = RawInput(Source(uri=str(path), position=0, line=1), path.read_bytes())
        articles.extend(record for record in parse_input(raw, 0) if isinstance(record, Article))
    return articles


def render_feed(article: Article) -> str:
    """An article as the scraped feed sends it: header, TT, header again, body."""
    captions = [f"{c.text} ({c.credit})" if c.credit else c.text for c in article.captions]
    caption_block = "\n".join(line for caption in captions for line in (f" {caption}", caption))
    header = f"{article.headline}\n\n{caption_block}" if captions else article.headline
    return f"{header}\nTT\n\n{header}\n\n" + "\n\n".join(article.body) + "\n"


def generate_articles(samples: list[Article], count: int, seed: int = 7) -> Iterator[Article]:
    """``count`` distinct articles: sample headlines numbered, sample paragraphs shuffled."""
    rng = random.Random(seed)
    for serial in range(count):
        base = samples[serial % len(samples)]
        body = list(base.body)
        rng.shuffle(body)
        yield dataclasses.replace(base, headline=f"{base.headline} ({serial})", body=tuple(body))


def write_corpus(articles: list[Article], folder: Path, per_file: int) -> list[Path]:
    """Write articles as feed files of ``per_file`` articles each, three blank lines apart."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for start in range(0, len(articles), per_file):
        path = folder / f"corpus-{start // per_file:05d}.txt"
        path.write_text("\n\n\n".join(render_feed(a) for a in articles[start : start + per_file]))
        paths.append(path)
    return paths
