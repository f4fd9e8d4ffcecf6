"""minemig: keep knowledge about migrasomes current from new PubMed literature.

The stages, in the order data flows through them:

1. :mod:`minemig.fetch`    E-utilities esearch → efetch (history server) → raw PubMed XML
2. :mod:`minemig.parse`    PubMed XML (.xml, .xml.gz, efetch) → :class:`~minemig.models.Article`
3. :mod:`minemig.nlp`      Article text → spaCy Doc → :mod:`minemig.mentions` (spans, ids)
4. :mod:`minemig.relate`   mentions in a sentence → :class:`~minemig.models.Finding`
5. :mod:`minemig.store`    SQLite: runs, articles, findings
6. :mod:`minemig.baseline` / :mod:`minemig.diff`  findings against the review's claims
7. :mod:`minemig.digest`   markdown digest

:mod:`minemig.cli` and :mod:`minemig.orchestrate` wire the stages together.
"""

__version__ = "0.1.0"
