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
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Protocol

from .records import Rejection, Triple


class CheckSettings(Protocol):
    """The thresholds the record checks read (``ScoreConfig`` and ``GenerateConfig`` have them)."""

    @property
    def repeat_lines(self) -> int: ...
    @property
    def truncation_min_words(self) -> int: ...
    @property
    def echo_min_words(self) -> int: ...
    @property
    def language_min_words(self) -> int: ...


@dataclass(frozen=True)
class CheckParams:
    """Default thresholds, for callers with no settings object (``instructforge check``)."""

    repeat_lines: int = 3
    truncation_min_words: int = 8
    echo_min_words: int = 4
    language_min_words: int = 5


Check = Callable[[Triple, CheckSettings], Rejection | None]


def normalise(text: str) -> str:
    """Lowercase, non-alphanumerics to spaces, whitespace collapsed.

    >>> normalise("  Hello,   World! ")
    'hello world'
    """
    return " ".join(re.sub(r"[\W_]+", " ", text.lower()).split())


def empty_instruction(t: Triple, cfg: CheckSettings) -> Rejection | None:
    return Rejection("empty_instruction", "") if not t.instruction.strip() else None


def empty_output(t: Triple, cfg: CheckSettings) -> Rejection | None:
    return Rejection("empty_output", "") if not t.output.strip() else None


def copies_input(t: Triple, cfg: CheckSettings) -> Rejection | None:
    # case kept: turning "hi" into "HI" is a task, not a copy
    inp = " ".join(t.input.split())
    return Rejection("copies_input", inp[:60]) if inp and inp == " ".join(t.output.split()) else None


def echoes_instruction(t: Triple, cfg: CheckSettings) -> Rejection | None:
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


def repeated_line(t: Triple, cfg: CheckSettings) -> Rejection | None:
    counts = Counter(_segments(t.output))
    if not counts:
        return None
    seg, n = counts.most_common(1)[0]
    return Rejection("repeated_line", f"{seg[:50]!r} x{n}") if n >= cfg.repeat_lines else None


DANGLING = ",:-–—("  # not ";": code ends with it
LIST_ITEM = re.compile(r"^\s*([-*•]|\d+[.)]|[a-zA-Z][.)])\s")


def truncated_output(t: Triple, cfg: CheckSettings) -> Rejection | None:
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


def language_mismatch(t: Triple, cfg: CheckSettings) -> Rejection | None:
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


# -- beyond the paper: the failure modes of small open models (docs/methods.md) ------------------

_MARKER = re.compile(r"(?<!\S)\d{1,3}\s*[.)](?=\s|$)")


#: a task that labels each of several things ("Classify each ..."): the same label may recur in its list
_LABELS_EACH = re.compile(r"\beach\b|\bevery\b|classif|\blabel|categor|\brate\b", re.I)


def degenerate_enumeration(t: Triple, cfg: CheckSettings) -> Rejection | None:
    """A list of numbers with nothing in it (``1. 1. 2. 3. 4.``) or a bare count (``1, 2, 3,
    ... 9``): at least 3 list markers and fewer words than markers once they are removed, or a
    run of at least 6 consecutive integers making up most of the output's tokens, or a list of 4+
    items at least half of which (3 or more) are the same item (``1. Chicken 2. Chicken 3. Pork
    4. Chicken``) or two or more of which repeat an earlier one (``- Light - LIGHT - LIGHTER -
    LIGHTERING - LIGHTERING``, case aside), each list of the output taken on its own."""
    out = t.output
    markers = _MARKER.findall(out)
    if len(markers) >= 3:
        words = re.findall(r"[^\W\d_]+", _MARKER.sub(" ", out))
        if len(words) < len(markers):
            return Rejection("degenerate_enumeration", f"{len(markers)} list markers, {len(words)} words")
    tokens = re.findall(r"\S+", out)
    nums = [int(m) for m in re.findall(r"(?<![\w.])\d{1,4}(?![\w])", out)]
    if len(nums) >= 6 and len(nums) >= 0.6 * len(tokens):
        run = best = 1
        for a, b in zip(nums, nums[1:], strict=False):
            run = run + 1 if b == a + 1 else 1
            best = max(best, run)
        if best >= 6 and not re.search(r"\bcount|\bnumbers?\b|\bsequence|\bdigits?\b", t.instruction, re.I):
            return Rejection("degenerate_enumeration", f"a count of {best} consecutive numbers")
    long_lists = [items for items in _lists(out) if len(items) >= 4]
    if long_lists and not _LABELS_EACH.search(t.instruction):
        for items in long_lists:
            counts = Counter(i for i in items if i)
            if counts:
                item, n = counts.most_common(1)[0]
                if n >= 3 and 2 * n >= len(items):
                    return Rejection("degenerate_enumeration", f"{n} of {len(items)} list items are {item[:30]!r}")
                repeats = sum(counts.values()) - len(counts)
                if repeats >= 2:
                    return Rejection("degenerate_enumeration", f"{repeats} of {len(items)} list items repeat another")
    return None


def _lists(text: str) -> list[list[str]]:
    """The items (normalised) of each list in ``text``: a list is a run of list-item lines, ended
    by a line that is not one (blank lines inside it do not end it)."""
    out: list[list[str]] = [[]]
    for line in text.splitlines():
        if m := LIST_ITEM.match(line):
            out[-1].append(normalise(line[m.end() :]))
        elif line.strip() and out[-1]:
            out.append([])
    return [items for items in out if items]


def _words(text: str) -> list[str]:
    return normalise(text).split()


def _ngrams(words: list[str], n: int) -> set[tuple[str, ...]]:
    return {tuple(words[i : i + n]) for i in range(len(words) - n + 1)}


def restates_instruction(t: Triple, cfg: CheckSettings) -> Rejection | None:
    """The output says the instruction again, nearly word for word (the exact case is
    ``echoes_instruction``): an output of at least 5 words whose word bigrams are at least 70%
    found in the instruction."""
    out = _words(t.output)
    if len(out) < 5:
        return None
    grams = _ngrams(out, 2)
    shared = len(grams & _ngrams(_words(t.instruction), 2)) / len(grams)
    if shared >= 0.7:
        return Rejection("restates_instruction", f"{shared:.0%} of its word pairs are the instruction's")
    return None


#: what an instruction can point at that the record must then supply
_THING = (
    r"(?:message|e-?mail|sentence|sentences|review|text|paragraph|passage|article|story|poem|essay|"
    r"code snippet|snippet|function|program|script|query|number|numbers|list|table|data|word|words|phrase|"
    r"question|statement|claim|document|tweet|post|headline|recipe|equation|expression|string|dialogue|topic|sequence)"
)
_POINTS_AT = re.compile(
    rf"\b(?:(?:this|these|the following|the given|the provided|the above|the|a given)\s+(?:\w+\s+){{0,2}}?{_THING}"
    r"|next in (?:sequence|series))\b",
    re.I,
)
#: what an instruction holds when it supplies its own material: a colon, a quote or code
_SUPPLIED = re.compile(r"[:\"“”‘’`]|\n|(?:^|\s)'\S")
#: a verb that makes the thing (it is the output, not the input) just before it
_MAKES = re.compile(
    r"\b(?:write|compose|generate|create|draft|produce|make|suggest|invent|come up with|give me)\s*$", re.I
)
#: the thing given after its name (a number, a formula, a title, a list after a dash), or asked
#: about ("the equation for ...", "the function of ...")
_GIVEN_AFTER = re.compile(
    r"^\s*(?:[-–—(=\[{]|\S*[\d^=+]|[A-Z][a-z]+\b(?! (?:into|to|in|for|from|and|or)\b)|(?:for|of)\b)"
    r"|.*\s[-–—]\s*\S"
)
_SENTENCE_END = re.compile(r"(?<=[.?!])(?=\s|$)")
#: anything beyond ASCII punctuation and space: a letter, a digit, an emoji (a story told in emojis is an input)
_HAS_CONTENT = re.compile(r"[^\s!-/:-@\[-`{-~]")


#: a label in front of the task (the prompt's format leaking), whose colon introduces no material
_TASK_LABEL = re.compile(r"^\s*\**\s*(?:the\s+|new\s+)?(?:task|instruction)(?:\s+\d+)?\s*\**\s*:\s*", re.I)


def missing_input(t: Triple, cfg: CheckSettings) -> Rejection | None:
    """The instruction points at something to work on (``Is this message spam?``, ``Is the
    sentence grammatically correct?``, ``Turn the binary number into decimal``) and the record
    supplies none: the input is empty and the instruction has no colon, quote, code or second line
    holding it (a label in front, ``The task: Summarize the story ...``, holds nothing). Only its
    first sentence counts (``... Why did you choose this question?`` means the answer). The model
    then answers about a text nobody wrote. An input of nothing but ASCII punctuation (a lone code
    fence, dashes) supplies nothing either."""
    if t.input.strip() and not _HAS_CONTENT.search(t.input):
        return Rejection("missing_input", f"the input holds no text: {t.input.strip()[:20]!r}")
    instruction = _TASK_LABEL.sub("", t.instruction)  # "The task: Summarize the story ..." supplies nothing
    if t.input.strip() or _SUPPLIED.search(instruction):
        return None
    sentence = _SENTENCE_END.split(instruction.strip(), maxsplit=1)[0]  # later ones may mean the answer
    for m in _POINTS_AT.finditer(sentence):
        before, after = sentence[: m.start()], sentence[m.end() :]
        if _MAKES.search(before) or _GIVEN_AFTER.match(after):
            continue  # "Write the opening sentence ...", "the number 196", "the words - a, b"
        return Rejection("missing_input", f"no input for {m.group(0)!r}")
    return None


#: how a refusal or an apology opens
_REFUSAL = re.compile(
    r"^\W*(?:i'?m sorry|i am sorry|i apologi[sz]e|sorry,|my apologies|unfortunately,? i|i'?m unable|i am unable|"
    r"i can(?:no|')t (?:help|assist|provide|do|answer)|as an ai\b|as a (?:chatbot|language model)\b)",
    re.I,
)


#: a canned reaction to the user's news, which a small model gives in place of doing the task
_REACTION = re.compile(
    r"^\W*(?:i'?m|i am) so (?:glad|happy|thrilled|excited) (?:(?:that )?you(?:'re| are)\b|for you\b|to hear\b)", re.I
)
#: ... unless the task asks for such a message
_ASKS_MESSAGE = re.compile(
    r"\b(?:message|reply|respond|response|letter|e-?mail|note|text|card|congratulat\w*|wish\w*|toast|speech|"
    r"chat|conversation|dialog(?:ue)?|friend)\b",
    re.I,
)


def refusal(t: Triple, cfg: CheckSettings) -> Rejection | None:
    """The output refuses or apologises instead of answering (``I'm sorry, but I'm unable to
    ...``, ``I'm sorry for your loss, ...``, ``As a chatbot, ...``): for the benign tasks of an
    instruction-tuning set that teaches the model to refuse. Also a canned reaction to the user
    in place of the task (``I'm so glad you're excited about ...`` for ``Draft an opening
    paragraph ...``), unless the task asks for a message, a reply or a letter."""
    m = _REFUSAL.match(t.output)
    if m:
        return Rejection("refusal", f"opens with {m.group(0).strip()!r}")
    m = _REACTION.match(t.output)
    if m and not _ASKS_MESSAGE.search(t.instruction + " " + t.input):
        return Rejection("refusal", f"a reaction to the user, not the task: {m.group(0).strip()!r}")
    return None


#: a sentence in which the output describes itself or the task it was given, instead of being
#: the answer: "This response uses your own voice ...", "This task requires you to ...",
#: "I made the following changes ..."
_SELF_COMMENT = re.compile(
    r"(?:^|(?<=[.!?:\n]))[\s*\"']*(?:this (?:response|answer|reply|output|rewrite|version|revised \w+|rewritten \w+) "
    r"(?:uses|includes|provides|captures|conveys|maintains|keeps|highlights|effectively|is written|demonstrates|"
    r"follows|meets|acknowledges|shows|emphasi[sz]es|addresses)\b|this task (?:requires|involves|asks)\b|"
    r"the task is to\b|i made the following changes\b)",
    re.I,
)


def comments_on_itself(t: Triple, cfg: CheckSettings) -> Rejection | None:
    """The output comments on itself or on the task (``This response uses your own voice while
    conveying the message ...``, ``This task requires you to condense ...``, ``I made the
    following changes to improve clarity: ...``): a small model's habit after its answer, which a
    model trained on it learns to repeat. A sentence that opens that way anywhere in the output."""
    m = _SELF_COMMENT.search(t.output)
    if m:
        return Rejection("comments_on_itself", m.group(0).strip(" \n*\"'")[:50])
    return None


#: a word sequence this long shared with a text of the prompt is a copy
COPY_NGRAM = 8
#: ... and so is an output this much of whose word triples are in one of those texts
COPY_SHARE = 0.5


def copies_prompt_text(output: str, texts: Iterable[str], n: int = COPY_NGRAM) -> Rejection | None:
    """The output copies one of ``texts`` (the demonstrations and seed texts its prompt
    showed): it shares a run of ``n`` words with it (normalised), or at least ``COPY_SHARE`` of
    its word triples are found in it (a copy with a word changed here and there). Outputs of
    fewer than 6 words (class labels, numbers) are never copies."""
    out = _words(output)
    if len(out) < 6:
        return None
    grams, tri = _ngrams(out, n), _ngrams(out, 3)
    for text in texts:
        words = _words(text)
        share = len(tri & _ngrams(words, 3)) / len(tri)
        if share >= COPY_SHARE or grams & _ngrams(words, n):
            return Rejection("copies_demonstration", f"{share:.0%} of its word triples from {' '.join(words[:8])!r}")
    return None


_LABEL_WORDS = (
    "true|false|yes|no|correct|incorrect|right|wrong|answer|output|response|solution|result|label|"
    "positive|negative|neutral|fact|opinion|statement|agree|disagree|example|input|granted"
)
_LABELLED = re.compile(rf"^\s*\**\s*(?:{_LABEL_WORDS})\s*\**\s*[:\-–—]\s*\S", re.I)
#: how a reply opens (the model answered the list prompt instead of continuing it)
_REPLY = re.compile(
    r"^\s*(?:(?:yes|no|sure|okay|ok|certainly|of course|absolutely|great)\b\s*[,!.]|thank you\b|thanks\b|"
    r"i can\b|i'll\b|i will\b|i have\b|you've\b|you have already\b|here (?:is|are)\b|here's\b|"
    r"the answer (?:to (?:this|the|your) question )?is\b)",
    re.I,
)
_LIST_START = re.compile(r"^\s*(?:\d+|[a-z])[.)]\s+\S")
#: a section number as a label ("1.1.10.1: A scientific topic ..."): two or more levels, then a colon
_SECTION_LABEL = re.compile(r"^\s*\d+(?:\.\d+)+\s*:")
#: "Ad hominem: This fallacy involves ...", "Sentence: This sentence contains ...",
#: "15-year-old son: No worries, ...": a short name, a colon, then a statement about it or a line
#: said by it. The name must not be a task itself ("Rewrite: This sentence ..." is one).
_NAMED_STATEMENT = re.compile(
    r"^\s*\**\s*(?P<head>[^:\n]{1,40}?)\s*\**\s*:\s+"
    r"(?:(?:this|these|it|there)\s+(?:\w+\s+)?(?:is|are|was|were|has|have|involves|asks|contains|targets|"
    r"assumes|means|refers|describes|shows|says|uses|occurs|happens)\b|no worries\b|you need to know\b|"
    r"[\"“']?(?P=head)\s+(?:is|are|was|were|has|have)\b)",
    re.I,
)
#: the model describing the prompt's tasks instead of writing one
_META_TASK = re.compile(
    r"^\s*the (?:first|second|third|next|last|final|new) (?:task|instruction) (?:is|was|will)\b", re.I
)
#: a statement or noun phrase: opens with an article or a pronoun, asks nothing, and says
#: nothing to do ("The Magna Carta is considered ...", "An example of ...", "You mention ...")
_ARTICLE_START = re.compile(r"^\s*(?:a|an|the|you|we|they|it|this|there|he|she)\s", re.I)
#: ... where asking means a question, a request, or telling the reader what to do ("you need to
#: ...", "your task is ...", "here is ..."); a "you" that only narrates ("You mention three
#: factors ...", "the pet you're referring to") asks nothing
_REQUESTS = re.compile(
    r"\?|\b(?:should|must|needs?|have to|has to|is required|are required|please|given|following|here (?:is|are)|"
    r"(?:can|could|would|will) you|you (?:are|will|can|could|may|might|need|must|should|have|want|get)|"
    r"your (?:task|job|answer|goal|response|output)|i (?:want|need|would like|wish)|i'd like|help me|let's|let me)\b",
    re.I,
)
_ASKS = re.compile(
    r"\?|\b(?:should|must|needs?|have to|has to|is required|are required|please|you|your|given|following)\b", re.I
)
_SENTENCES = re.compile(r"(?<=[.!:])\s+")
#: verbs a task can open with: a head starting with one is an instruction, not a name
_TASK_VERBS = frozenset(
    "add analyze analyse answer arrange ask calculate categorize change check choose classify combine compare "
    "complete compose compute condense continue convert correct count create decide define describe design "
    "detect determine draft edit evaluate explain expand extract fill find fix format generate give guess "
    "identify improve list make match name outline paraphrase pick predict produce proofread provide "
    "rank rate read recommend rephrase replace restate rewrite reword score select shorten simplify solve "
    "sort spell state suggest summarize summarise tell translate turn use verify write".split()
)


def labelled_statement(instruction: str) -> Rejection | None:
    """An instruction that is an answer, a reply or a list, not a task: it opens with a label and
    a colon (``True: Factories should ...``, ``Answer: ...``), like a reply (``Yes, I can ...``,
    ``Sure! Here are ...``, ``Thank you ...``), with a list number (``1. Identify ...``), talks
    about the prompt's tasks (``The first task is to ...``), or is a short name (not a task verb)
    with a statement about it or a line said by it (``Ad hominem: This fallacy involves ...``,
    ``15-year-old son: No worries, ...``), or is a statement opening with an article or a
    pronoun that asks nothing (``The Magna Carta is considered an important document because
    ...``, ``You mention three factors historians ...``), or asks only to read (``Read the
    customer review: ...``)."""
    if _LABELLED.match(instruction):
        return Rejection("labelled_statement", f"a label: {instruction[:40]!r}")
    if _REPLY.match(instruction):
        return Rejection("labelled_statement", f"a reply: {instruction[:40]!r}")
    if _LIST_START.match(instruction) or _SECTION_LABEL.match(instruction):
        return Rejection("labelled_statement", f"a list: {instruction[:40]!r}")
    if _META_TASK.match(instruction):
        return Rejection("labelled_statement", f"about the prompt's tasks: {instruction[:40]!r}")
    if (
        _ARTICLE_START.match(instruction)
        and not _REQUESTS.search(instruction)
        and not any(w[0] in _TASK_VERBS for w in map(_words, _SENTENCES.split(instruction)) if w)
    ):
        return Rejection("labelled_statement", f"a statement, not a task: {instruction[:40]!r}")
    if _reads_only(instruction):
        return Rejection("labelled_statement", f"asks only to read: {instruction[:40]!r}")
    m = _NAMED_STATEMENT.match(instruction)
    name = m.group("head") if m else ""
    head = _words(name)
    if 0 < len(head) <= 4 and head[0] not in _TASK_VERBS and not _EXPLAIN.match(name):
        return Rejection("labelled_statement", f"a name and a statement about it: {instruction[:40]!r}")
    m = _NAME_COLON.match(instruction)
    if m and _names_a_statement(m.group("head"), m.group("tail")):
        return Rejection("labelled_statement", f"a name and a statement about it: {instruction[:40]!r}")
    return None


def _reads_only(instruction: str) -> bool:
    """``Read the customer review: "Satisfying," "Great," ...``: a task of reading and nothing
    else (no other task verb in any clause, no question or request), so it has no answer."""
    w = _words(instruction)
    if not w or w[0] != "read" or _REQUESTS.search(instruction):
        return False
    clauses = re.split(r"(?<=[.!?;:])\s+|\band\b|\bthen\b|,", instruction)
    return not any(c and c[0] in _TASK_VERBS and c[0] != "read" for c in map(_words, clauses))


#: "Ad hominem: The argument that ...", "The En Passant Rule: In chess, the rule states ...": a
#: name of 1-4 words, a colon, and the rest of the instruction
_NAME_COLON = re.compile(r"^\s*\**\s*(?P<head>[^:\n?]{1,40}?)\s*\**\s*:\s+(?P<tail>.+)$", re.S)


def _names_a_statement(name: str, tail: str) -> bool:
    """A short name (not a task, not a question) followed by a statement: 12+ words, asking
    nothing and with no sentence that opens with a task verb or says how to answer."""
    head = _words(name)
    if not 0 < len(head) <= 4 or head[0] in _TASK_VERBS or _EXPLAIN.match(name) or _WH.match(name):
        return False
    if _POINTS_AT.search(name) or "following" in head:  # "Interpret the following data: ..." is input
        return False
    sentences = [w for w in map(_words, _SENTENCES.split(tail)) if w]
    return (
        len(_words(tail)) >= 12
        and not _ASKS.search(tail)
        and not _choices(tail)
        and not any(w[0] in _TASK_VERBS or w[0] in _ABOUT_THE_ANSWER for w in sentences)
    )


_CHATTER = re.compile(
    r"^\s*(?:this is|this task|this question|that is|that's|here is|here are|here's|sure|of course|certainly|okay|ok\b|"
    r"well\b|great|i\b|i'm|i'll|i've|i'd|let me|let's|the answer|answer is|it is a|it's a|as an ai|yes\b|no\b|"
    r"thank|the (?:main|primary|key|short|simple|basic) (?:difference|reason|answer|idea))",
    re.I,
)
#: a list marker in front of text after a colon: behind one, only talk about the task counts as
#: chatter ("- This task is one of ..."), as notes in a list may well say "I met ...")
_LEAD = re.compile(r"^(?:[-*•]\s+)+")
#: talk about the task itself, after any task however short ("Solve for x: This task involves ...")
_TASK_TALK = re.compile(r"this task (?:involves|is|requires|asks|will|can)\b", re.I)
_ABOUT_THE_TASK = re.compile(r"(?:this task|this question|this is (?:a|an|one)\b|as an ai)", re.I)
#: the model talking about itself or the prompt, anywhere in an instruction
_SELF_TALK = re.compile(
    r"\b(?:this is (?:a|an) (?:common|classic|great|good|example|interesting)|as an ai|ai assistant|smollm|"
    r"i'll provide|i can (?:help|assist)|(?:i'll|i'd|i am|i'm) (?:be )?happy to|here are (?:some|a few) more)\b",
    re.I,
)
_EXPLAIN = re.compile(r"^\s*(?:explain|describe|define|tell me|what|who|why|how)\b", re.I)
_WH = re.compile(r"^\s*(?:what|why|how|who|whom|when|where|which)\b", re.I)


#: how a sentence that says how to answer opens ("Reply with ...", "Use one word.", "If ...")
_ABOUT_THE_ANSWER = frozenset(
    "please reply respond answer use be include try keep do don return output format consider assume "
    "imagine suppose note remember if for make your you".split()
)


def _choices(tail: str) -> bool:
    """A list of choices: 4+ commas between short items (``Disheartening, Accusatory, Worried,
    Curious, ...``), not prose that happens to have commas."""
    items = tail.split(",")
    return len(items) >= 5 and sum(len(i.split()) for i in items) / len(items) <= 4


def _answers_question(tail: str) -> bool:
    """The text after a question is its answer: 12+ words, no question of its own, not a
    sentence about how to answer or a task, not a list of choices."""
    w = _words(tail)
    return (
        len(w) >= 12
        and "?" not in tail
        and not _choices(tail)
        and w[0] not in _TASK_VERBS
        and w[0] not in _ABOUT_THE_ANSWER
    )


def trailing_answer(instruction: str) -> Rejection | None:
    """An instruction that carries its own answer or chatter (``Explain why rainbows appear: This
    is a common question, but I'll ...``): after a colon or question mark that ends a task of at
    least 4 words, text that opens like an answer (this is, here is, sure, I, the answer, the
    main difference ...); an explanation request whose quoted or following text defines its own
    topic (``Explain the en passant rule: "The en passant rule is ..."``); or the model talking
    about itself (``as an AI``, ``This is an example of how ...``); or a question followed by a
    statement of 12+ words that is its answer (``In Python, when should I use a tuple? A tuple
    in Python can only contain one element ...``), also after a colon when the question points at
    no text that the colon could introduce (``What made the Rosetta Stone so important: A lot of
    people think ...``)."""
    m = _SELF_TALK.search(instruction)
    if m:
        return Rejection("trailing_answer", f"chatter: {m.group(0)!r}")
    for sep in re.finditer(r"[:?]\s", instruction):
        head, tail = instruction[: sep.start()], instruction[sep.end() :].strip()
        if head.strip() and _TASK_TALK.match(_LEAD.sub("", tail)):  # "Solve for x: This task involves ..."
            return Rejection("trailing_answer", f"talks about the task: {tail[:40]!r}")
        if len(head.split()) < 4 or not tail:
            continue
        if _CHATTER.match(tail) or (_LEAD.match(tail) and _ABOUT_THE_TASK.match(_LEAD.sub("", tail))):
            return Rejection("trailing_answer", tail[:40])
        if sep.group(0)[0] == "?" and _answers_question(tail):
            return Rejection("trailing_answer", f"a question and its answer: {tail[:40]!r}")
        if sep.group(0)[0] == ":" and _WH.match(head) and not _POINTS_AT.search(head) and _answers_question(tail):
            # "What made the Rosetta Stone so important: A lot of people think ..." (a question
            # that points at no text, so what follows its colon is not its input but its answer)
            return Rejection("trailing_answer", f"a question and its answer: {tail[:40]!r}")
        if sep.group(0)[0] == ":" and _EXPLAIN.match(head) and len(tail.split()) >= 8:
            topic = {w for w in _words(head) if len(w) >= 4}
            first = _words(tail)[:6]
            if topic & set(first[:3]) and ({"is", "are", "was", "were", "means", "refers"} & set(first)):
                return Rejection("trailing_answer", f"defines its own topic: {tail[:40]!r}")
    return None


#: checks of an instruction alone, beyond the paper
INSTRUCTION_CHECKS: list[Callable[[str], Rejection | None]] = [labelled_statement, trailing_answer]


#: bump when a check's definition changes: stored scores are then redone (quality/config.py)
CHECKS_VERSION = 6

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

#: every record check run while generating and by ``instructforge check``: the ones above (those
#: of ``score``) and those beyond the paper that need only the record
GENERATION_CHECKS: list[Check] = [
    *CHECKS,
    degenerate_enumeration,
    restates_instruction,
    missing_input,
    refusal,
    comments_on_itself,
]


def run_checks(t: Triple, cfg: CheckSettings) -> list[Rejection]:
    """Every failed check of one record, in CHECKS order."""
    return [r for r in (c(t, cfg) for c in CHECKS) if r is not None]


# -- all of them, as generate and `instructforge check` run them ------------------------------------

#: every reason the validity checks give, in the order they run (instruction first)
VALIDITY_REASONS = [
    "labelled_statement",
    "trailing_answer",
    "copies_pool_instruction",
    *(c.__name__ for c in GENERATION_CHECKS),
    "copies_demonstration",
    "duplicate_output",
]
#: what a person may switch off one by one (GenerateConfig ``check_<reason>``); the two empty
#: checks only repeat the paper's rules and always run with the others
OPTIONAL_CHECKS = [r for r in VALIDITY_REASONS if r not in ("empty_instruction", "empty_output")]

#: outputs shorter than this (class labels, numbers) may be the same for different instructions
DUPLICATE_MIN_WORDS = 5
#: an instruction sharing a run of this many words with a different pool instruction copies it
POOL_COPY_WORDS = 10


class RecordChecker:
    """The validity checks over the records of one run or file, in order.

    ``enabled``: the reasons to check (default: all of ``VALIDITY_REASONS``). It remembers the
    outputs it accepted, so ``duplicate_output`` flags an output of at least
    ``DUPLICATE_MIN_WORDS`` words already given to a different instruction (the first one is
    kept); and the instruction pool it is given (``add_to_pool``: the seeds, then each accepted
    instruction), so ``copies_pool_instruction`` flags an instruction that repeats
    ``POOL_COPY_WORDS`` consecutive words of a different pool instruction."""

    def __init__(self, cfg: CheckSettings | None = None, enabled: Iterable[str] | None = None):
        self.cfg: CheckSettings = cfg if cfg is not None else CheckParams()
        self.enabled = set(VALIDITY_REASONS if enabled is None else enabled)
        unknown = self.enabled - set(VALIDITY_REASONS)
        if unknown:
            raise ValueError(f"unknown checks: {sorted(unknown)}")
        self.seen: dict[str, str] = {}  # normalised output -> normalised instruction
        # for claim(): normalised output -> (key, normalised instruction, instruction) of its keeper
        self.owners: dict[str, tuple[str, str, str]] = {}
        self.pool_runs: dict[tuple[str, ...], str] = {}  # a run of POOL_COPY_WORDS words -> its instruction

    def add_to_pool(self, instruction: str) -> None:
        """Remember a pool instruction (a seed, or one accepted) for ``copies_pool_instruction``."""
        if "copies_pool_instruction" not in self.enabled:
            return
        for run in _ngrams(_words(instruction), POOL_COPY_WORDS):
            self.pool_runs.setdefault(run, instruction)

    def copies_pool(self, text: str) -> Rejection | None:
        """``copies_pool_instruction``: ``text`` repeats ``POOL_COPY_WORDS`` consecutive words of a
        different pool instruction: a seed's task with new material spliced in (``Continue the
        story from the opening sentence, adding about five more sentences: <another text>``), or
        a seed's sentence glued to another task (``A phone call is set for 3:00 p.m. in New York
        in January. How can I ask for a raise ...``). Such an instruction is not a new task, and
        its added text is what ROUGE-L's length normalisation forgives. The same text again is the
        paper's duplicate rule, not this one."""
        if "copies_pool_instruction" not in self.enabled or not self.pool_runs:
            return None
        own = normalise(text)
        for run in _ngrams(_words(text), POOL_COPY_WORDS):
            other = self.pool_runs.get(run)
            if other is not None and normalise(other) != own:
                return Rejection("copies_pool_instruction", f"{' '.join(run)!r} from {other[:50]!r}")
        return None

    def instruction(self, text: str, pool: bool = True) -> list[Rejection]:
        """The failed checks of an instruction alone (``pool``: with ``copies_pool_instruction``)."""
        out = [r for c in INSTRUCTION_CHECKS if c.__name__ in self.enabled and (r := c(text)) is not None]
        if pool and (r := self.copies_pool(text)) is not None:
            out.append(r)
        return out

    def instance(self, t: Triple, prompt_texts: Iterable[str] = ()) -> list[Rejection]:
        """The failed checks of one instance (the duplicate check is ``duplicate``)."""
        out = [r for c in GENERATION_CHECKS if c.__name__ in self.enabled and (r := c(t, self.cfg)) is not None]
        if "copies_demonstration" in self.enabled:
            r = copies_prompt_text(t.output, prompt_texts)
            if r is not None:
                out.append(r)
        return out

    def _compared(self, t: Triple) -> tuple[str, str] | None:
        """(normalised output, normalised instruction) of a record ``duplicate_output`` looks at:
        with the check on and an output of ``DUPLICATE_MIN_WORDS``+ words; else None."""
        if "duplicate_output" not in self.enabled:
            return None
        out = normalise(t.output)
        return (out, normalise(t.instruction)) if len(out.split()) >= DUPLICATE_MIN_WORDS else None

    def duplicate(self, t: Triple, remember: bool = True) -> Rejection | None:
        """``duplicate_output`` of an instance; a passing one is remembered when ``remember``."""
        if (seen := self._compared(t)) is None:
            return None
        out, ins = seen
        first = self.seen.get(out)
        if first is not None and first != ins:
            return Rejection("duplicate_output", f"also the output of {first[:50]!r}")
        if remember:
            self.seen.setdefault(out, ins)
        return None

    def claim(self, t: Triple, key: str) -> tuple[Rejection | None, str | None]:
        """``duplicate_output`` decided by key order, not by arrival: of the records of different
        instructions that give the same output (5+ words), the one with the smallest ``key``
        keeps it, whatever order they are offered in. Returns (a rejection of this one, None)
        when a smaller key holds the output, or (None, the key that loses it to this one), or
        (None, None). The caller takes the output away from the loser."""
        if (seen := self._compared(t)) is None:
            return None, None
        out, ins = seen
        held = self.owners.get(out)
        if held is None or held[1] == ins:
            self.owners.setdefault(out, (key, ins, t.instruction))
            return None, None
        if held[0] < key:
            return Rejection("duplicate_output", f"also the output of {held[2][:50]!r}"), None
        self.owners[out] = (key, ins, t.instruction)
        return None, held[0]

    def record(self, t: Triple, prompt_texts: Iterable[str] = ()) -> list[Rejection]:
        """Every failed check of a record (instruction, instance, then duplicate), remembering
        its output only when it passed the others."""
        out = self.instruction(t.instruction) + self.instance(t, prompt_texts)
        dup = self.duplicate(t, remember=not out)
        return out + ([dup] if dup is not None else [])
