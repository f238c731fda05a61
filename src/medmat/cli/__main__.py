"""`python -m medmat.cli ...` (used by tests and by `accelerate launch -m`)."""

from medmat.cli import main

main()
