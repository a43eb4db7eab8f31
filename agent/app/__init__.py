"""The app layer: the ``agent`` command line (solve, eval, finetune, export) and the evaluation reports.

Nothing below imports it.
"""
