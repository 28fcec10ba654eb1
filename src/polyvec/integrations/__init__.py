"""Framework adapters (LangChain, LlamaIndex): types in, types out."""
