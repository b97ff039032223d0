"""Evaluation: SuperNI (ROUGE-L, exact match), user-oriented instructions (judge A-D), and
per-task comparison of two evaluations (win/tie/loss with bootstrap intervals)."""
