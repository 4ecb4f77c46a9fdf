"""mmrec_lib: the library behind the mmrec book.

Importing the package is cheap: heavy dependencies (torch, transformers, xgboost)
are imported inside the modules that need them.
"""

__version__ = "0.1.0"
