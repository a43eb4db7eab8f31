"""Model backends, one file each, all implementing :class:`agent.core.model.Model`.

Heavy imports (llama_cpp, torch, transformers) happen inside the constructors.
"""
