"""`make demo`: the deployed shape on one machine (FPT emulator, moto server, the stack of template.yaml)."""
