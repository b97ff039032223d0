"""Instruction Induction (Honovich et al. 2023): induce instructions from demonstrations,
execute and score them on the 24-task benchmark, and search for better ones (after APE)."""
