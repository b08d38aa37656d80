"""SDG Cities Kit: offline-first self-assessment, sealing and review for the SDG Cities certification.

Everything outside :mod:`app.ui` is Qt-free and usable from the ``sdgkit`` command line.
"""

__version__ = "0.1.0"
