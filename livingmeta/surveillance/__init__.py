"""Surveillance: searches of PubMed, ClinicalTrials.gov and Europe PMC, a plain-text ledger in
the review folder, deduplication, registry watch with draft records, ranked screening that never
excludes, and the PRISMA counts, update trigger and notices the editions take from the ledger.
A layer above ``pipeline`` and below ``report`` (.importlinter)."""
