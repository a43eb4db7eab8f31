"""The strategies layer: direct, cot, react, sc (self-consistency, optionally verifier-voted) and tot.

Each strategy wraps one program and returns one :class:`~agent.core.record.RunRecord`; the options
of all of them are one :class:`~agent.strategies.config.StrategyConfig`. It imports the core and
``search``, never the app.
"""
