"""instructforge: Instruction Induction, Self-Instruct and REFINE-AF in one tool."""

__version__ = "0.1.0"
