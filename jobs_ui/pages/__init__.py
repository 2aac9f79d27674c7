"""The app's pages; each module owns the substates it uses."""
