"""The validity checks (data/checks.py), each with records the embedded model really wrote
(issue 20's demo export and the runs behind benchmarks/data/validity_labelled.jsonl) and
human-written records it must let through."""

from __future__ import annotations

import pytest

from instructforge.data.checks import (
    CheckParams,
    RecordChecker,
    comments_on_itself,
    copies_prompt_text,
    degenerate_enumeration,
    labelled_statement,
    missing_input,
    refusal,
    restates_instruction,
    trailing_answer,
)
from instructforge.data.records import Triple
from instructforge.quality.validity import demo_texts
from instructforge.selfinstruct.config import GenerateConfig

P = CheckParams()


@pytest.mark.parametrize(
    "instruction",
    [
        "True: Factories should decide what matters most.",
        "False: Factories are not allowed to have a four-day workweek, because they must run every day.",
        "Yes: This task requires great care and attention, as you need to carefully follow all instructions.",
        "Yes, I can assist with that task.",
        "Sure! Here are some more ideas: 1) How should I start running without getting hurt?",
        "Thank you to the people who helped me with this task!",
        "You've already listed several additional tasks, but I'll provide you with more specific answers.",
        "1. A list of tasks: - Condense the following meeting notes into three bullet points.",
        # seeds 6-7 of the labelled set (embedded model, both instance orders)
        "Ad hominem: This fallacy involves making a personal attack against someone's character.",
        "Citing: This sentence has a grammatical error in the first part of the sentence.",
        "Question: This question asks for a thoughtful counterargument to the claim made above.",
        "The first task is to put together seven budget-friendly family dinner recipes using rice.",
        "15-year-old son: No worries, that's a common question in any age group.",
        "The Magna Carta is considered an important document because it granted rights to people.",
        "An example of a memorable sentence from a blog post.",
        # seeds 8-9 (session 10): a section number as a label; a name and a quoted statement about it
        "1.1.10.1: A scientific topic or science fiction story",
        'C++: "C++ is an excellent language for game development, and it has many features."',
        # the demo (seed 0, session 12, fp32 instances): a name, then a statement that asks nothing
        "Ad hominem: The argument that a four-day work week will have no impact on the economy relies on an ad "
        "hominem fallacy, which involves making a personal attack against someone's character or motivations.",
        "The En Passant Rule: In chess, the en passant rule states that a pawn can capture any fellow pawn who is "
        "advancing in their direction by moving two squares diagonally to the opponent's square.",
        # seeds 9-13 (session 13): a statement opening with a pronoun or an article whose "you" only
        # narrates; a task of reading and nothing else; a reply opening with the answer
        "You mention three factors historians commonly use when they talk about the fall of the Western Roman "
        "Empire. They used to use the Roman numerals. So they had to change them into numbers.",
        'The idiom "take care of a snake" means to be responsible for caring for and managing your household '
        "pets, including the one you're referring to as a child.",
        "A short paragraph about the benefits of using technology to control peoples lifes. Technology has made "
        "our world much easier than before. Technology allows you to communicate with others from your home.",
        'Read the customer review: "Satisfying," "Great," "Awesome"',
        "The answer to this question is 7. A revised title for the blog post announcing the bakery's new product "
        'could be: "Sourdough Breads & Sweetenings" Here are some additional tasks with numbered lists:',
    ],
)
def test_labelled_statement_flags_embedded_answers(instruction: str) -> None:
    assert labelled_statement(instruction) is not None


@pytest.mark.parametrize(
    "instruction",
    [
        "Tell the story of a barista who cannot decide on what to order.",
        "Share practical tips for someone who struggles with sleep apnea.",
        "Tell me whether the statement is true or false.",
        "Answer the following question about the paragraph.",
        "Is the following number even or odd?",
        # a task verb or a question before the colon: the text after it is what to work on
        "Rewrite: This sentence has too many words in it and could be shorter.",
        "Correct the grammar: This are the best days of my life.",
        "Explain the joke: There is a cat on the keyboard again.",
        "Your task is to write a haiku about autumn rain.",
        "Paraphrase the sentence: It was a dark and stormy night.",
        # an article first, but a task: passive "should", a question, or a task verb later
        "The given text must be classified as offensive or not offensive.",
        "A confirmation email should be written appropriately for the situation.",
        "The last message in the chat is a partial response. Complete it.",
        # a name before the colon, then a task or text to work on, not a statement about the name
        "Python: Write a function that reverses a string.",
        'Haiku: "Autumn moonlight, a worm digs silently into the chestnut."',
        # a name and a long text after it that asks something, says what to do, or is the input
        "Interpret the following data: The average temperature in Phoenix, Arizona during the summer months of "
        "June, July, and August is 105 degrees Fahrenheit.",
        "Context: The company will launch a new product next month and the team has little time left. Write a "
        "short plan for the launch week.",
        "Customer review: The blender arrived broken and the support team took three weeks to answer my emails, "
        "so you should rate it.",
        # a pronoun first, then a request or a task (session 13)
        "You are given a list of numbers. Sort them from the smallest to the largest.",
        "We need a slogan for a small bakery that sells sourdough. Suggest three.",
        "They say a picture is worth a thousand words. Describe the photo in one sentence.",
        "It is raining and my plans are ruined. Can you suggest something to do indoors?",
        # a reading task with something to do after the reading
        "Read the paragraph and answer the question that follows.",
        'Read the customer review and decide whether it is positive: "Great soup, slow service."',
        # human (a Self-Instruct seed task): a definition with an example asks for one by pointing at it
        "The movie tagline is the film's advertising slogan, usually printed on posters prior to the official "
        "release. It is a short description or comment on a movie to capture the essence of the movie, and "
        "ultimately make you watch the movie. Here is an example:",
    ],
)
def test_labelled_statement_keeps_tasks(instruction: str) -> None:
    assert labelled_statement(instruction) is None


@pytest.mark.parametrize(
    "instruction",
    [
        "Explain to a seven-year-old why rainbows appear after it rains: This is a common question, but I'll try.",
        "How can you tell an alligator from a crocodile? This is a classic puzzle, and the answer lies in the jaws.",
        "What is the difference between a computer's RAM and its storage drive? The primary differences between "
        "these two are that RAM refers to temporary memory.",
        'Explain the en passant rule in chess: "The en passant rule is a game of capture where one player captures '
        'the king."',
        "Convert recipe quantities from US cups to metric units: 1 cup = 36 fluid ounces. This is an example of how "
        "AI can adapt its capabilities.",
        # seed 11: a question and (wrong) answer in one instruction
        "In Python, when should I use a tuple instead of a list? A tuple in Python can only contain one element and "
        "it cannot be modified after creation.",
        # the demo (seed 0, session 9): a question with a colon and its (wrong) answer after it
        "What made the Rosetta Stone so important for understanding ancient Egypt: A lot of people think that the "
        "Rosetta Stone was very important for our ancestors' knowledge, but it wasn't.",
        # ... and as it was exported: prose with many commas is still an answer, not a list of choices
        "What made the Rosetta Stone so important for understanding ancient Egypt: A lot of people think that the "
        "Rosetta Stone was very important for our ancestors' knowledge, but it wasn't. Ancient Egyptians had their "
        "own writing system, and they wrote everything on stone. They were able to write down their thoughts, ideas, "
        "and stories. So, the stone helped them to learn new things. So, it was like a treasure box for them.",
        # the demo (seed 0, session 12): chatter after the colon, behind a list marker
        "Turn the recipe paragraph into a shopping list with quantities: - This task is one of the many ways to help "
        "me improve my skills in grammar and vocabulary.",
        # seed 10: talk about the task after a task of any length
        "Solve for x: This task involves solving a linear equation to find the value of x.",
    ],
)
def test_trailing_answer_flags_embedded_instructions(instruction: str) -> None:
    assert trailing_answer(instruction) is not None


@pytest.mark.parametrize(
    "instruction",
    [
        'Change the direct quotation into reported speech: "The story of a star is not just about stars."',
        "Rewrite this paragraph with a ten-year-old's perspective: \"I'm going to make you some popcorn.\"",
        "Explain what the following proverb means: The early bird catches the worm.",
        "What is the capital of France? Answer in one word.",
        "I am planning a trip to Japan: what should I pack for two weeks in spring?",
        # a question whose colon introduces the text it asks about, not its answer
        "What is the main idea of the following paragraph: Bees carry pollen from flower to flower, and without "
        "them many crops would give far less fruit every year.",
        "Which emotion does this tweet express: Finally got the job we all wanted for three years and still cannot "
        "stop smiling today.",
        # a quote after the colon is the input, even when it opens with "I" or "Thank"
        'Translate the following phrase into Spanish: "I love to dance salsa".',
        'Translate the following phrase to French: "Thank you!"',
        'Translate into French: "This task is harder than it looks."',
        # notes in a list after the colon may speak in the first person
        "Summarize the meeting notes in two lines: - I met the supplier on Monday - prices go up in May",
    ],
)
def test_trailing_answer_keeps_tasks(instruction: str) -> None:
    assert trailing_answer(instruction) is None


@pytest.mark.parametrize(
    "output",
    [
        "1. 1. 1. 2. 3. 4. 5. 6. 7. 8. 9. 10. 11.",
        "1. 1. 2. 3. 4.",
        "1, 2, 3, 4, 5, 6, 7, 8, 9",
        # seed 13: one item repeated through the list
        "1. Chicken\n2. Chicken\n3. Pork\n4. Chicken\n5. Chicken\n\nThe top 5 most popular food items.",
        # ... the whole of that output: a second list after a line of text does not dilute the first
        "1. Chicken\n2. Chicken\n3. Pork\n4. Chicken\n5. Chicken\n\nThe top 5 most popular food items are:\n"
        "- Chicken (1)\n- Chicken (2)\n- Pork (3)\n- Chicken (4)\nThese include the most popular foods.",
        # the demo (seed 0, session 13): two items said again, case aside
        'The words that rhyme with "light" are:\n- Light\n- LIGHT\n- LIGHTER\n- LIGHTERING\n- LIGHTERING',
    ],
)
def test_degenerate_enumeration_flags(output: str) -> None:
    assert degenerate_enumeration(Triple("Sharing practical tips for someone who cannot sleep.", "", output), P)


@pytest.mark.parametrize(
    "instruction,output",
    [
        ("List the first six prime numbers.", "2, 3, 5, 7, 11, 13"),
        ("Count from one to ten.", "1, 2, 3, 4, 5, 6, 7, 8, 9, 10"),
        ("Give three tips for sleeping well.", "1. Keep a regular bedtime.\n2. Avoid screens late.\n3. Keep it dark."),
        ("What is 12 times 12?", "144"),
        # a repeated item in a longer list, or a repeated answer the task asks for
        ("List six fruits.", "1. Apple\n2. Pear\n3. Apple\n4. Plum\n5. Kiwi\n6. Fig"),
        ("Label each review.", "1. Positive\n2. Positive\n3. Negative\n4. Positive\n5. Positive"),
        # two lists, neither mostly one item
        ("Name two fruits, then four more.", "1. Apple\n2. Pear\n\nMore:\n1. Apple\n2. Pear\n3. Plum\n4. Fig"),
    ],
)
def test_degenerate_enumeration_keeps(instruction: str, output: str) -> None:
    assert degenerate_enumeration(Triple(instruction, "", output), P) is None


@pytest.mark.parametrize(
    "output",
    [  # embedded outputs, seeds 0 and 11-12 of the labelled set
        "I'm so proud of you! I hope you're enjoying your new marathon.\n\nBest regards,\nThe support team\n\n"
        "This response uses your own voice while conveying the message using your own tone and style.",
        "* *What are the main arguments for commuting to work by bicycle in a large city?*\n- *It reduces traffic "
        "congestion.*\n\nThis task requires you to condense the tasks into three bullet points.",
        'The contract clause is: "This contract will not include any terms."\n\nI made the following changes to '
        'improve clarity and grammar:\n- Changed "this" to "this"',
    ],
)
def test_comments_on_itself_flags(output: str) -> None:
    assert comments_on_itself(Triple("Write it.", "", output), P) is not None


@pytest.mark.parametrize(
    "output",
    [  # human-style answers that talk about a response or a task without commenting on themselves
        "Thank you for your quick response. I will send the documents by Friday.",
        "This function uses a list comprehension to square each number.",
        "The task force will meet on Monday to review this response plan.",
        "I have made the correct choice without a doubt.",
    ],
)
def test_comments_on_itself_keeps(output: str) -> None:
    assert comments_on_itself(Triple("Write it.", "", output), P) is None


SEED_STORY = "Continue the story from the opening sentence, adding about five more sentences."
SEED_CALL = "A phone call is set for 3:00 p.m. in New York in January. What time is it in London and in Tokyo?"


def test_copies_pool_instruction() -> None:
    c = RecordChecker()
    for s in (SEED_STORY, SEED_CALL):
        c.add_to_pool(s)
    # embedded output, seeds 10-11: a seed's task with new text spliced in, a seed's sentence glued to another task
    spliced = (
        "Continue the story from the opening sentence, adding about five more sentences: \"I've always believed "
        'that a healthy work-life balance is essential for personal growth and well-being."'
    )
    glued = "A phone call is set for 3:00 p.m. in New York in January. How can I ask for a higher salary?"
    assert [r.reason for r in c.instruction(spliced)] == ["copies_pool_instruction"]
    assert [r.reason for r in c.instruction(glued)] == ["copies_pool_instruction"]
    assert c.instruction(spliced, pool=False) == []
    assert c.instruction(SEED_STORY) == []  # the same text is the paper's duplicate rule, not this check
    # a new task sharing a shorter run of the seed's words
    assert c.instruction("Continue the story from the opening sentence in the style of a fairy tale.") == []
    assert RecordChecker(enabled=[]).copies_pool(spliced) is None


def test_bootstrap_pool_rejects_a_spliced_seed_after_the_paper_filters() -> None:
    from instructforge.selfinstruct.bootstrap import Pool

    pool = Pool(GenerateConfig(), [SEED_STORY], [])
    spliced = SEED_STORY[:-1] + ': "The lighthouse keeper found a letter under the door one stormy night, and he '
    spliced += "knew at once that the handwriting was his brother's, who had left the island twenty years ago.\""
    assert pool.judge(spliced)["reason"] == "copies_pool_instruction"
    assert pool.judge(SEED_STORY + " Then give it a title.")["reason"] == "too_similar"  # ROUGE-L first
    ok = "Write a four-line poem about a lighthouse keeper who finds a letter under his door."
    assert pool.judge(ok)["reason"] is None
    glued = "My grandfather lived by the sea for sixty years and still talks about the storms of his youth. " + ok
    # ... an accepted instruction joined the pool
    assert pool.judge(glued)["reason"] == "copies_pool_instruction"
    assert Pool(GenerateConfig(filters="paper"), [SEED_STORY], []).judge(spliced)["reason"] is None


def test_copies_demonstration() -> None:
    texts = demo_texts()
    copied = "1. Keep a dedicated workspace that only uses for work. 2. Plan your day in block"
    assert copies_prompt_text(copied, texts) is not None
    own = "1. Go to bed at the same time every night.\n2. Keep the bedroom cool and dark."
    assert copies_prompt_text(own, texts) is None
    assert copies_prompt_text("Positive", texts) is None  # a class label is never a copy


def test_restates_instruction() -> None:
    ins = "False: Factories are not allowed to have a four-day workweek, because they must run every day."
    out = "Factories are not allowed to have a four-day workweek, because they must run every day."
    assert restates_instruction(Triple(ins, "", out), P) is not None
    assert restates_instruction(Triple("Correct the grammar: He go to school.", "", "He goes to school."), P) is None


def test_duplicate_output_across_instructions() -> None:
    c = RecordChecker()
    out = "1. Keep a bedtime routine and go to sleep at the same hour every night."
    assert c.record(Triple("Give tips for falling asleep.", "", out)) == []
    assert c.record(Triple("Give tips for falling asleep.", "", out)) == []  # same instruction: not this check
    r = c.record(Triple("What is the area of a circular garden bed with radius 2 m?", "", out))
    assert [x.reason for x in r] == ["duplicate_output"]
    assert c.record(Triple("Is 7 odd?", "", "Yes")) == c.record(Triple("Is 9 odd?", "", "Yes")) == []


def test_paper_filters_turn_every_check_off() -> None:
    assert GenerateConfig(filters="paper").enabled_checks() == []
    on = GenerateConfig().enabled_checks()
    assert "degenerate_enumeration" in on and "labelled_statement" in on
    assert "trailing_answer" not in GenerateConfig(check_trailing_answer=False).enabled_checks()


# -- a generate run (scripted backend) with planted junk -------------------------------------------

import json  # noqa: E402
from pathlib import Path  # noqa: E402

from si_helpers import records, run_cli, write_rules, write_seeds  # noqa: E402

PLANTED_BOOTSTRAP = (
    "Give tips for falling asleep quickly.\n10. True: Factories should decide what matters most.\n"
    "11. Explain why the sky looks blue at noon: This is a common question, but I'll try.\n"
    "12. Describe a rainy afternoon in a big city."
)
COPIED = "1. Keep a dedicated workspace that you only use for work.\n2. Plan your day in blocks and take a short break every hour."
RAIN = "Rain taps on the windows while people hurry under umbrellas and the cafes fill up with steam."
PLANTED_RULES = [
    {"regex": r"\nIs it classification\?$", "response": " No"},
    {
        "regex": r"Task: Give tips for falling asleep quickly\.\n$",
        "response": f"Example 1\nOutput: 1. 1. 2. 3. 4.\nExample 2\nOutput: {COPIED}\nExample 3\nOutput: {RAIN}",
    },
    {"regex": r"Task: Describe a rainy afternoon in a big city\.\n$", "response": f"Example 1\nOutput: {RAIN}"},
    {"regex": r"Task: ", "response": "Example 1\nOutput: A plain and sensible answer written for this task alone."},
    {"contains": "Continue the list", "response": PLANTED_BOOTSTRAP},
]


def _planted_run(tmp: Path, name: str, n: int, filters: str) -> tuple[Path, dict]:
    seeds = write_seeds(tmp / "seeds.jsonl")
    rules = write_rules(tmp / "rules.jsonl", PLANTED_RULES)
    cfg = tmp / f"{name}.json"
    cfg.write_text(json.dumps({"pool_lag": 1, "filters": filters}))
    out = tmp / name
    args = ["--quiet", "generate", "--seeds", str(seeds), "--out", str(out), "--num-instructions", str(n)]
    run_cli(*args, "--model", f"scripted:{rules}", "--config", str(cfg), check=True)
    return out, json.loads((out / "summary.json").read_text())


def test_generate_rejects_planted_junk_with_reasons(tmp_path: Path) -> None:
    out, s = _planted_run(tmp_path, "checks", 2, "checks")
    assert s["rejections_by_reason"].get("labelled_statement") == 1
    assert s["rejections_by_reason"].get("trailing_answer") == 1
    inst = s["instance_rejections_by_reason"]
    assert inst.get("degenerate_enumeration") == 1 and inst.get("copies_demonstration") == 1
    assert inst.get("duplicate_output") == 1  # RAIN: "Give tips" (the smaller key) keeps it, "Describe" not
    kept = [i["output"] for _, st, p in records(out, "task") if st == "accepted" for i in p["instances"]]
    assert kept == [RAIN]
    rejected = {p["reason"]: p["output"] for _, _, p in records(out, "instance_rejection")}
    assert rejected["degenerate_enumeration"] == "1. 1. 2. 3. 4." and rejected["copies_demonstration"] == COPIED
    assert "validity" in s and s["validity"]["instances"]["degenerate_enumeration"] == 1


def test_generate_paper_filters_accept_planted_junk(tmp_path: Path) -> None:
    out, s = _planted_run(tmp_path, "paper", 4, "paper")
    assert s["accepted"] == 4 and not s["instance_rejections_by_reason"]
    outputs = [i["output"] for _, st, p in records(out, "task") if st == "accepted" for i in p["instances"]]
    assert "1. 1. 2. 3. 4." in outputs and COPIED in outputs and outputs.count(RAIN) == 2


def test_progress_lines_when_stderr_is_not_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    import io
    import time

    from rich.console import Console

    from instructforge.core import ui

    buf = io.StringIO()
    monkeypatch.setattr(ui, "console", Console(file=buf, force_terminal=False, width=200))
    monkeypatch.setattr(ui, "LINE_INTERVAL", 0.05)
    with ui.progress("generate", 3, status=True) as bar:
        bar.advance()
        bar.status("1 accepted · 2 in flight")
        time.sleep(0.3)
    lines = buf.getvalue().splitlines()
    assert len(lines) >= 3 and lines[0].startswith("generate: 1/3 · 1 accepted · 2 in flight")
    assert lines[-1].endswith("done")


@pytest.mark.parametrize(
    "instruction",
    [  # embedded output, seeds 8-9 of the labelled set: each came with an empty input
        "Is this message spam?",
        "Is the sentence grammatically correct?",
        "Read the customer review and decide whether it supports your personal perspective.",
        "Turn the binary number into decimal equivalent using python's math library.",
        # seeds 0 and 8: a sequence or a topic nobody gave
        "What number comes next in sequence?",
        "What makes you think your opinion on this topic positive, negative, or mixed?",
        # seed 15: the colon belongs to a label in front, and introduces no story
        "The task: Summarize the story in two sentences, and determine if it is true or false.",
    ],
)
def test_missing_input_flags_a_pointer_to_nothing(instruction: str) -> None:
    assert missing_input(Triple(instruction, "", "The message is not spam."), P) is not None


@pytest.mark.parametrize(
    ("instruction", "input_"),
    [
        ("Is this message spam?", "WIN a FREE cruise, click now!!!"),  # the input supplies it
        ('Is the sentence grammatically correct: "He go to school."', ""),  # so does the instruction
        ("Write the opening sentence for a persuasive essay about school uniforms.", ""),  # the output
        ("Find the square root of the number 196.", ""),  # named after the noun
        ("Convert this number from decimal to hexadecimal - 762.", ""),
        ("What is the equation for the Pythagorean theorem?", ""),  # asked about
        ("Write a funny interview question. Why did you choose this question?", ""),  # a later sentence
        ("Write a python function that sorts a list from large to small.", ""),
        ("Write some spells from the Harry Potter series.", ""),  # a series is not a sequence given
        ("Pick a topic and write a haiku about it.", ""),
        ('Task: Summarize the story: "A fox found a well and, being thirsty, jumped in."', ""),  # after the label
    ],
)
def test_missing_input_keeps_supplied_or_produced_things(instruction: str, input_: str) -> None:
    assert missing_input(Triple(instruction, input_, "An answer."), P) is None


def test_missing_input_flags_an_input_of_bare_punctuation() -> None:
    # the demo (seed 0, session 9): the input the embedded model wrote was a lone code fence
    code = "Use a loop to print out the decimal equivalent of the binary number. For example: ```python def main():"
    assert missing_input(Triple(code, "```", "`1010.1111`"), P) is not None
    assert missing_input(Triple("Continue the pattern.", "- - -", "- - - -"), P) is not None
    # a story told in emojis (a user-oriented seed) and a bare number are inputs
    emoji = "The story of a movie has been described using many emojis. You need to guess the name of the movie."
    assert (
        missing_input(Triple(emoji, "\U0001f9d9\u200d\u2642\ufe0f\U0001f6aa\U0001f4da\u26a1", "Harry Potter"), P)
        is None
    )
    assert missing_input(Triple("Is the number prime?", "17", "Yes."), P) is None


def test_refusal() -> None:
    for out in (
        "I'm sorry, but I'm unable to make a cake with marshmallows and chocolate chips.",
        "I'm sorry for your loss, but I'm unable to assist with that task.",
        "As a chatbot, I don't have the ability to browse the internet.",
    ):
        assert refusal(Triple("Explain inflation.", "", out), P) is not None
    for out in ("Sorry is a word people say too often.", "The message is not spam.", "I think the answer is 4."):
        assert refusal(Triple("Explain inflation.", "", out), P) is None


def test_refusal_flags_a_reaction_in_place_of_the_task() -> None:
    # seeds 9, 11 and 13 of the labelled set: the embedded model congratulates a user nobody heard from
    for instruction, out in (
        ("Draft an opening paragraph with a humorous tone.", "I'm so glad you're excited about the new library."),
        ("I just received my first full-time job offer.", "I'm so glad you're excited about the opportunity."),
        ("The 60-word product description of a company.", "I'm so glad you're happy about the remote work options"),
    ):
        assert refusal(Triple(instruction, "", out), P) is not None
    # a task that asks for a message or a reply, and an answer that merely starts with "I"
    for instruction, out in (
        ("Send an encouraging message to a friend who got a job.", "I'm so glad you're starting there!"),
        ("Reply to this e-mail.", "I'm so happy for you, congratulations on the new house."),
        ("Explain inflation.", "I would start with prices: inflation means they rise over time."),
    ):
        assert refusal(Triple(instruction, "", out), P) is None


def test_trailing_answer_keeps_a_question_with_how_to_answer_or_its_choices() -> None:
    for instruction in (
        "Is this message spam? Reply with Spam or Not spam and nothing else, using exactly one of the two words.",
        "How may the writer of this email sound to the reader? These tones include Disheartening, Accusatory, "
        "Worried, Curious, Surprised and Formal.",
        "What is the capital of France? Answer with the name of the city only, in one word and without punctuation.",
    ):
        assert trailing_answer(instruction) is None, instruction


RAINY = "Walk slowly under the trees and listen to the rain falling on the leaves."


def _flow_run(tmp: Path, name: str, batches: list[list[str]]) -> tuple[dict, dict]:
    """Tasks offered to one GenerateFlow in ``batches`` (each batch committed together, as answers
    arriving between two commits are): what the store then holds."""
    from instructforge.data.records import Instance
    from instructforge.data.runrecords import TaskRecord
    from instructforge.data.store import RunStore
    from instructforge.models.client import open_llm
    from instructforge.selfinstruct.common import StageContext
    from instructforge.selfinstruct.config import GenerateConfig
    from instructforge.selfinstruct.pipeline import GenerateFlow

    made = {
        "p000001.00": ("Describe a walk in the rain.", [RAINY]),
        "p000002.00": (
            "Give tips for a rainy day.",
            [RAINY, "Carry a small umbrella and wear shoes that keep water out."],
        ),
        "p000003.00": ("Write about the sound of rain.", [RAINY]),
    }
    store = RunStore(tmp / name)
    llm = open_llm("embedded", use_cache=False)  # never called: the flow only judges what it is given

    def flow() -> GenerateFlow:
        return GenerateFlow(StageContext(store, llm, GenerateConfig()), [], from_run=True)

    f = flow()
    for batch in batches:
        if batch == ["resume"]:  # a new process on the same store
            f = flow()
            continue
        for key in batch:
            ins, outs = made[key]
            f._add_task(TaskRecord(key, ins, True, [Instance("", o) for o in outs]), [])
        f._commit()
    tasks = {t.key: (t.accepted, [i.output for i in t.instances]) for t in store.tasks()}
    # whole rejection records: the same whether a copy was rejected on arrival or taken away later
    rejected = sorted((r.key, r.task_key, r.reason, r.detail) for r in store.instance_rejections())
    store.close()
    return tasks, rejected


def test_duplicate_output_goes_to_the_smallest_key_whatever_the_arrival_order(tmp_path: Path) -> None:
    first = _flow_run(tmp_path, "in_order", [["p000001.00"], ["p000002.00"], ["p000003.00"]])
    tasks, rejected = first
    assert tasks["p000001.00"] == (True, [RAINY])
    assert tasks["p000002.00"] == (True, ["Carry a small umbrella and wear shoes that keep water out."])
    assert tasks["p000003.00"] == (False, [])  # its only instance was the duplicate: no_instances
    assert [(r[1], r[2]) for r in rejected] == [("p000002.00", "duplicate_output"), ("p000003.00", "duplicate_output")]
    assert all(r[3].startswith("also the output of a task of an earlier prompt") for r in rejected)
    orders = [
        [["p000003.00"], ["p000002.00"], ["p000001.00"]],  # the keeper arrives last: the others lose it
        [["p000002.00", "p000003.00", "p000001.00"]],  # all in one commit
        [["p000003.00"], ["resume"], ["p000001.00", "p000002.00"]],  # and across a resume
        [["p000002.00"], ["resume"], ["p000003.00"], ["resume"], ["p000001.00"]],
    ]
    for i, order in enumerate(orders):
        assert _flow_run(tmp_path, f"order{i}", order) == first, order


def test_check_a_run_dir_starts_its_pool_from_the_run_seeds(tmp_path: Path) -> None:
    from si_helpers import SEEDS

    from instructforge.quality.validity import seed_pool

    out, _ = _planted_run(tmp_path, "paper", 4, "paper")
    pool, grow = seed_pool(out)
    assert pool == [s[0] for s in SEEDS] and grow
    f = tmp_path / "d.jsonl"
    glued = "A phone call is set for 3:00 p.m. in New York in January. How can I ask for a higher salary?"
    rows = [
        {"instruction": SEED_CALL, "input": "", "output": "It is 8 p.m. in London and 5 a.m. in Tokyo."},
        {"instruction": glued, "input": "", "output": "Ask for a meeting and bring numbers."},
    ]
    f.write_text("".join(json.dumps(r) + "\n" for r in rows))
    pool, grow = seed_pool(f)  # a file: the packaged seeds, which hold SEED_CALL
    assert SEED_CALL in pool and not grow
    p = run_cli("check", str(f), "--out", str(tmp_path / "o"), check=True)
    lines = [json.loads(x) for x in (tmp_path / "o" / "checks.jsonl").read_text().splitlines()]
    assert [r["reasons"] for r in lines] == [[], ["copies_pool_instruction"]]
    p = run_cli("check", str(out), "--json", check=True)
    by = json.loads(p.stdout)["by_reason"]
    assert by["labelled_statement"] >= 1 and by["degenerate_enumeration"] == 1 and by["copies_demonstration"] == 1
    # the summary's records: the run's four accepted instructions' instances
    accepted = [i for _, st, task in records(out, "task") if st == "accepted" for i in task["instances"]]
    assert json.loads(p.stdout)["records"] == len(accepted)
