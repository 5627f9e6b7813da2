"""One thin CLI module per stage; each exposes ``main(argv) -> int`` and calls one library function."""
