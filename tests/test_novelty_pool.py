"""The novelty index on every core (selfinstruct/novelty_pool.py) gives exactly the one-process
answers: the same (kept, score, index) for every text of a greedy stream, the same max
similarities for a fixed pool, in edge cases too (empty texts, an empty pool, ties between the
pool and the texts of a block, duplicates inside a block), and carries on in one process when a
worker dies."""

from __future__ import annotations

import random

import pytest

from instructforge.selfinstruct.novelty import NoveltyIndex, read_records
from instructforge.selfinstruct.novelty_pool import NoveltyPool

WORDS = "write a short poem story list of the given text about cats dogs rain why how explain".split()


def sequential(texts, initial=(), threshold=0.7, stem=False):
    index = NoveltyIndex(threshold=threshold, use_stemmer=stem)
    for t in initial:
        index.add(t)
    return [index.check_and_add(t) for t in texts], index


def synthetic(n: int, seed: int) -> list[str]:
    """Short texts from a small vocabulary: many near duplicates, exact copies, ties and texts
    sharing no token (or having none)."""
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        r = rng.random()
        if r < 0.05:
            out.append("")
        elif r < 0.1:
            out.append("!!! ???")
        elif r < 0.2 and out:
            out.append(rng.choice(out))  # an exact copy, maybe inside the same block
        else:
            out.append(" ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 7))))
    return out


@pytest.mark.parametrize("block", [1, 7, 64])
@pytest.mark.parametrize("stem", [False, True])
def test_greedy_matches_one_process_on_synthetic_texts(block, stem):
    texts = synthetic(600, seed=block)
    want, index = sequential(texts, stem=stem)
    with NoveltyPool(use_stemmer=stem, processes=2, block=block, min_parallel=0) as pool:
        got = pool.greedy(texts)
        assert pool._workers, "the workers did not start"
        assert got == want
        assert pool.texts == index.texts
        assert pool.pairs_seen == index.pairs_seen
        # a second batch goes on from the same pool (the workers get the texts kept since)
        more = synthetic(200, seed=99)
        assert pool.greedy(more) == [index.check_and_add(t) for t in more]


def test_greedy_and_max_similarities_match_on_real_instructions(shared_data):
    texts = []
    for name in ("self-instruct/seed_tasks.jsonl", "alpaca-libre/alpaca_libre_tasks_v1.jsonl"):
        texts += [r["instruction"] for _, r in read_records(shared_data / name, strict=False)[0]]
    initial, stream = texts[:175], texts[175:]
    want, index = sequential(stream, initial=initial, threshold=0.5)
    assert 100 < sum(k for k, _, _ in want) < len(stream) - 100  # both decisions are common
    with NoveltyPool(threshold=0.5, processes=3, min_parallel=0) as pool:
        for t in initial:
            pool.add(t)
        assert pool.greedy(stream) == want
        queries = texts[::3]
        assert pool.max_similarities(queries) == [index.max_similarity(t) for t in queries]


def test_a_tie_between_the_pool_and_the_block_goes_to_the_pool():
    pool_text, twin = "write a poem about cats", "write a poem about dogs"
    query = "write a poem about rain"  # the same F with both
    with NoveltyPool(threshold=0.9, processes=2, block=8, min_parallel=0) as pool:
        pool.add(pool_text)
        got = pool.greedy([twin, query])
    want, _ = sequential([twin, query], initial=[pool_text], threshold=0.9)
    assert got == want and got[1][2] == 0


def test_empty_pool_and_nothing_shared():
    texts = ["", "alpha beta", "gamma", "", "alpha beta"]
    want, _ = sequential(texts)
    with NoveltyPool(processes=2, block=3, min_parallel=0) as pool:
        assert pool.greedy(texts) == want
    assert want[0] == (True, 0.0, None) and want[2] == (True, 0.0, 0)


def test_small_batches_stay_in_one_process():
    with NoveltyPool(processes=2) as pool:
        pool.greedy(["write a poem", "tell a story"])
        assert pool._workers == []


def test_a_dead_worker_means_one_process_same_answers():
    texts = synthetic(400, seed=5)
    want, _ = sequential(texts)
    with NoveltyPool(processes=2, block=16, min_parallel=0) as pool:
        first = pool.greedy(texts[:100])
        proc, _ = pool._workers[0]
        proc.kill()
        proc.wait()
        rest = pool.greedy(texts[100:])
        assert pool._workers == []
    assert first + rest == want


def test_processes_must_be_positive():
    with pytest.raises(ValueError, match="processes"):
        NoveltyPool(processes=0)
