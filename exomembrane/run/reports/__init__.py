"""Reports per builder kind, one module per act; each registers itself with
:func:`exomembrane.run.report.report` and is found by :mod:`exomembrane.run.report`."""
