"""Model calls: the wire types (types.py), the LLM client and its stream (client.py), the call
cache, the model settings (modelconfig.py), side-by-side procedures (steps.py), backends/ and
executors/. Stages call models only through an LLM object."""
