"""Training loops, one module per model family; each reads top to bottom (STYLE.md: nanoGPT)."""
