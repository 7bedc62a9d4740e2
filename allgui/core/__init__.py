"""The headless engine. Never imports Qt; the CLI and the window both drive it."""
