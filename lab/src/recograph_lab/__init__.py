"""recograph's lab, kept out of the product: the TechHeaven demo store (``demo``), benchmarks
(``bench``), the shopper simulator (``simulate``) and the notebook's helpers (``analysis``).

Its commands (``recograph demo-data``, ``bench``, ``simulate``) reach the product's CLI
through the ``recograph.commands`` entry points; the product never imports this package."""
