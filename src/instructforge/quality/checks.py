"""Cheap deterministic checks of one (instruction, input, output) record, with reasons.

No model and no download: each check is one function ``(triple, cfg) -> Rejection | None`` (the
house style of selfinstruct/filters.py). Unlike Self-Instruct's step-4 filters (paper section
2.2), which drop instances while generating, these only flag: ``instructforge score`` stores every
failed check with its reason and ``export --drop-flagged`` removes flagged records. All checks
run on every record, so a record can fail several; counts are kept per reason.

Definitions (docs/score.md repeats them):

- ``empty_instruction`` / ``empty_output``: nothing but whitespace.
- ``copies_input``: the output equals a non-empty input (whitespace collapsed, case kept).
- ``echoes_instruction``: the normalised output (lowercase, non-alphanumerics to spaces,
  whitespace collapsed) equals the normalised instruction, or contains it when the instruction
  has at least ``echo_min_words`` words.
- ``repeated_line``: some line, or some sentence within a line, of at least 2 words occurs at
  least ``repeat_lines`` times (compared normalised).
- ``truncated_output``: the output (right-stripped) opens more ``(``, ``[`` or ``{`` than it
  closes, has an odd number of ``` fences, ends with one of ``, : - – — (``, or is prose that
  stops mid-sentence: its last line has at least ``truncation_min_words`` words, is not a list
  item (``-``, ``*``, ``•``, ``1.``, ``1)``, ``a)``), ends with a letter, and an earlier part of
  the output ends a sentence with ``. ! ?`` (so titles, lists, verse and code, which often end
  without a full stop, are not flagged).
- ``language_mismatch``: instruction and output (each with at least ``language_min_words``
  words) are written in different scripts (the most frequent Unicode script of their letters,
  when it holds >= 60% of at least 10 letters), or both in Latin script but in different
  languages by a stopword count (en, es, fr, de, it, pt, nl; at least 2 distinct stopwords and
  1.5x the runner-up; URLs, e-mails and code tokens ignored). Skipped when the instruction mentions translating or names a language.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Callable

from ..data.records import Rejection, Triple
from .config import ScoreConfig

Check = Callable[[Triple, ScoreConfig], Rejection | None]


def normalise(text: str) -> str:
    """Lowercase, non-alphanumerics to spaces, whitespace collapsed.

    >>> normalise("  Hello,   World! ")
    'hello world'
    """
    return " ".join(re.sub(r"[\W_]+", " ", text.lower()).split())


def empty_instruction(t: Triple, cfg: ScoreConfig) -> Rejection | None:
    return Rejection("empty_instruction", "") if not t.instruction.strip() else None


def empty_output(t: Triple, cfg: ScoreConfig) -> Rejection | None:
    return Rejection("empty_output", "") if not t.output.strip() else None


def copies_input(t: Triple, cfg: ScoreConfig) -> Rejection | None:
    # case kept: turning "hi" into "HI" is a task, not a copy
    inp = " ".join(t.input.split())
    return Rejection("copies_input", inp[:60]) if inp and inp == " ".join(t.output.split()) else None


def echoes_instruction(t: Triple, cfg: ScoreConfig) -> Rejection | None:
    ins, out = normalise(t.instruction), normalise(t.output)
    if not ins or not out:
        return None
    if out == ins:
        return Rejection("echoes_instruction", "the output is the instruction")
    if len(ins.split()) >= cfg.echo_min_words and f" {ins} " in f" {out} ":
        return Rejection("echoes_instruction", "the output contains the instruction")
    return None


def _segments(text: str) -> list[str]:
    """Lines, and the sentences of each line, normalised; those of fewer than 2 words dropped."""
    out: list[str] = []
    for line in text.splitlines():
        parts = [line] + (re.split(r"(?<=[.!?])\s+", line.strip()) if re.search(r"[.!?]\s+\S", line) else [])
        out.extend(n for n in map(normalise, parts) if len(n.split()) >= 2)
    return out


def repeated_line(t: Triple, cfg: ScoreConfig) -> Rejection | None:
    counts = Counter(_segments(t.output))
    if not counts:
        return None
    seg, n = counts.most_common(1)[0]
    return Rejection("repeated_line", f"{seg[:50]!r} x{n}") if n >= cfg.repeat_lines else None


DANGLING = ",:-–—("  # not ";": code ends with it
LIST_ITEM = re.compile(r"^\s*([-*•]|\d+[.)]|[a-zA-Z][.)])\s")


def truncated_output(t: Triple, cfg: ScoreConfig) -> Rejection | None:
    out = t.output.rstrip()
    if not out:
        return None
    for opening, closing in ("()", "[]", "{}"):
        if out.count(opening) > out.count(closing):
            return Rejection("truncated_output", f"unclosed {opening!r}")
    if out.count("```") % 2:
        return Rejection("truncated_output", "unclosed ``` fence")
    if out[-1] in DANGLING:
        return Rejection("truncated_output", f"ends with {out[-1]!r}")
    last = out.splitlines()[-1].strip()
    if (
        len(last.split()) >= cfg.truncation_min_words
        and not LIST_ITEM.match(last)
        and last[-1].isalpha()
        and re.search(r"[.!?](\s|$)", out[: len(out) - len(last)] + last[:-1])
    ):
        return Rejection("truncated_output", f"prose ends mid-sentence: ...{last[-30:]!r}")
    return None


# -- language ------------------------------------------------------------------------------------

#: frequent function words, no single letters (they clash with symbols, initials and formulas)
STOPWORDS = {
    "en": "the and is are of to in that it with for this you your was be on not have what which how why "
    "from about each given following".split(),
    "es": "el los las es en que un una por con para no se del está como pero son".split(),
    "fr": "le les et est que une des pour dans pas ne sur du avec il elle sont ce qui".split(),
    "de": "der die das und ist nicht ein eine zu mit den von sie es auf für ich auch sind".split(),
    "it": "il gli di che per non con sono del della una un nel alla questo".split(),
    "pt": "os as de que um uma para não com em do da se são como mas".split(),
    "nl": "de het een en is van niet dat op zijn met voor ik je te ook maar".split(),
}
LANGUAGE_WORDS = re.compile(
    r"translat|\b(english|spanish|french|german|italian|portuguese|dutch|chinese|japanese|korean|russian|"
    r"arabic|hindi|greek|hebrew|latin|language)\b",
    re.I,
)


def script(text: str, min_letters: int = 10) -> str | None:
    """The most frequent Unicode script among the letters, if it holds >= 60% of >= 10 letters.

    >>> script("Bonjour tout le monde"), script("Привет, как дела у тебя"), script("ok")
    ('LATIN', 'CYRILLIC', None)
    """
    counts: Counter[str] = Counter()
    for ch in text:
        if ch.isalpha():
            name = unicodedata.name(ch, "")
            word = name.split(" ")[0] if name else "UNKNOWN"
            counts["CJK" if word in ("CJK", "HIRAGANA", "KATAKANA") else word] += 1
    total = sum(counts.values())
    if total < min_letters:
        return None
    best, n = counts.most_common(1)[0]
    return best if n / total >= 0.6 else None


def latin_language(text: str) -> str | None:
    """The language with the most distinct stopwords (>= 2, and 1.5x the runner-up), else None.
    Tokens holding ``/ @ _`` or a dot between letters (URLs, e-mails, code) are skipped.

    >>> latin_language("the cat is on the mat and it is happy"), latin_language("el gato está en la casa y es feliz con los niños")
    ('en', 'es')
    >>> latin_language("see https://example.com/x and mail ann@example.com")
    """
    prose = " ".join(tok for tok in text.lower().split() if not re.search(r"[/@_]|\w\.\w", tok))
    words = set(re.findall(r"[^\W\d_]+", prose))
    hits = sorted(((len(words.intersection(sw)), lang) for lang, sw in STOPWORDS.items()), reverse=True)
    (best, lang), (second, _) = hits[0], hits[1]
    return lang if best >= 2 and best >= 1.5 * second else None


def language_mismatch(t: Triple, cfg: ScoreConfig) -> Rejection | None:
    if LANGUAGE_WORDS.search(t.instruction):
        return None
    ins, out = t.instruction + " " + t.input, t.output
    if min(len(ins.split()), len(out.split())) < cfg.language_min_words:
        return None
    a, b = script(ins), script(out)
    if a and b and a != b:
        return Rejection("language_mismatch", f"{a.lower()} instruction, {b.lower()} output")
    if a == b == "LATIN":
        la, lb = latin_language(ins), latin_language(out)
        if la and lb and la != lb:
            return Rejection("language_mismatch", f"{la} instruction, {lb} output")
    return None


#: bump when a check's definition changes: stored scores are then redone (quality/config.py)
CHECKS_VERSION = 2

#: every check, run in this order on every record
CHECKS: list[Check] = [
    empty_instruction,
    empty_output,
    copies_input,
    echoes_instruction,
    repeated_line,
    truncated_output,
    language_mismatch,
]
REASONS = [c.__name__ for c in CHECKS]


def run_checks(t: Triple, cfg: ScoreConfig) -> list[Rejection]:
    """Every failed check of one record, in CHECKS order."""
    return [r for r in (c(t, cfg) for c in CHECKS) if r is not None]
