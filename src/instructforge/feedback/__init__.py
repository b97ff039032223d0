"""Automated feedback on (instruction, input, output) triples (REFINE-AF, section 3.2): the judge,
UniEval and reward-model scorers (scorers.py), the linear reward rule (reward.py), the quality audit
(audit.py) and the one factory of scorers (factory.py), with their prompts/."""
