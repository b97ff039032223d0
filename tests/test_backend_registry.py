"""The backend registry: every ``--model`` form comes from one list, and the cache identity
(``model_identity``, computed without loading weights) equals the built backend's ``model_id``
for every kind that can be built here."""

from __future__ import annotations

import json
import sys
import types

import pytest

from instructforge.core.errors import InputError
from instructforge.models.backends import (
    VALID_SPECS,
    BackendOptions,
    load_backend,
    model_files,
    model_identity,
    parse_spec,
)
from instructforge.models.backends.engines import available_engines
from instructforge.models.backends.registry import KINDS, SPEC_FORMS
from instructforge.testing.fake_openai import FakeOpenAIServer


def test_spec_forms_come_from_the_registry():
    assert VALID_SPECS == "embedded, hf:DIR, openai:MODEL (with --base-url), vllm:DIR, scripted:FILE"
    assert SPEC_FORMS == "embedded | hf:DIR | openai:MODEL | vllm:DIR | scripted:FILE"
    from instructforge.models.modelconfig import ModelConfig

    assert ModelConfig.__dataclass_fields__["model"].metadata["help"] == SPEC_FORMS
    assert parse_spec(" embedded ") == ("embedded", "")
    for name, kind in KINDS.items():
        if kind.arg is not None:
            assert parse_spec(f"{name}:x/y:z") == (name, "x/y:z")
    for bad in ("", "hf", "hf:", "embedded:x", "gguf:x", "openai"):
        with pytest.raises(InputError, match="valid forms: embedded, hf:DIR"):
            parse_spec(bad)


def test_every_kind_names_an_importable_backend_class():
    from instructforge.models.backends.base import Backend

    for kind in KINDS.values():
        cls = kind.backend_class()
        assert issubclass(cls, Backend)
        assert cls.identity.__func__ is not Backend.identity.__func__, kind.name


def test_scripted_identity_is_its_model_id(tmp_path):
    rules = tmp_path / "rules.jsonl"
    rules.write_text('{"default": true, "response": "ok"}\n')
    spec, opts = f"scripted:{rules}", BackendOptions(batch_size=3)
    backend = load_backend(spec, opts)
    assert model_identity(spec, opts) == backend.model_id
    assert backend.batch_size == 3


def test_openai_identity_is_its_model_id(monkeypatch):
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    with FakeOpenAIServer() as server:
        for api in ("chat", "completions"):
            opts = BackendOptions(base_url=server.url + "/", api=api)
            backend = load_backend("openai:test-model", opts)
            try:
                assert model_identity("openai:test-model", opts) == backend.model_id
            finally:
                backend.close()
        monkeypatch.setenv("OPENAI_BASE_URL", server.url)
        backend = load_backend("openai:m2")
        try:
            assert model_identity("openai:m2") == backend.model_id == f"openai:{server.url}:m2:chat"
        finally:
            backend.close()


def _fake_vllm() -> types.ModuleType:
    """Just enough of vllm's surface for the backend's constructor (no engine runs)."""
    vllm = types.ModuleType("vllm")

    class LLM:
        def __init__(self, model: str, **kw: object):
            self.model = model

        def get_tokenizer(self) -> object:
            return object()

    vllm.LLM = LLM  # type: ignore[attr-defined]
    return vllm


def test_vllm_identity_needs_no_vllm_and_is_its_model_id(tmp_path, monkeypatch, isolated_cache):
    d = tmp_path / "model"
    d.mkdir()
    (d / "config.json").write_text(json.dumps({"model_type": "llama"}))
    opts = BackendOptions()
    monkeypatch.setitem(sys.modules, "vllm", None)  # as if not installed: importing it fails
    ident = model_identity(f"vllm:{d}", opts)
    assert ident.startswith(f"vllm:{d.resolve()}@") and len(ident.rsplit("@", 1)[1]) == 16
    with pytest.raises(InputError, match="vllm is not installed"):
        load_backend(f"vllm:{d}", opts)
    monkeypatch.setitem(sys.modules, "vllm", _fake_vllm())
    backend = load_backend(f"vllm:{d}", opts)
    assert backend.model_id == ident and backend.llm.model == str(d)
    (d / "config.json").write_text(json.dumps({"model_type": "llama", "changed": True}))
    assert model_identity(f"vllm:{d}", opts) != ident  # a changed model is a new identity


def test_resolve_adapter_base(tmp_path, monkeypatch):
    base = tmp_path / "base"
    base.mkdir()
    adapter = tmp_path / "adapter"
    adapter.mkdir()
    assert model_files.resolve_adapter_base(base) == base  # not an adapter: its own base
    (adapter / "adapter_config.json").write_text(json.dumps({"base_model_name_or_path": str(base), "r": 8}))
    assert model_files.resolve_adapter_base(adapter) == base
    embedded = tmp_path / "embedded-dir"
    monkeypatch.setattr(model_files, "embedded_model_dir", lambda: embedded)
    embedded.mkdir()
    for ref in ("embedded", None):
        (adapter / "adapter_config.json").write_text(json.dumps({"base_model_name_or_path": ref}))
        assert model_files.resolve_adapter_base(adapter) == embedded
    (adapter / "adapter_config.json").write_text(json.dumps({"base_model_name_or_path": "HuggingFaceTB/SmolLM2"}))
    with pytest.raises(InputError, match=r"adapter_config.json: base model 'HuggingFaceTB/SmolLM2' is not a local dir"):
        model_files.resolve_adapter_base(adapter)
    assert model_files.tokenizer_dir(base) == base
    (adapter / "adapter_config.json").write_text(json.dumps({"base_model_name_or_path": str(base)}))
    assert model_files.tokenizer_dir(adapter) == base
    (adapter / "tokenizer_config.json").write_text("{}")
    assert model_files.tokenizer_dir(adapter) == adapter


def test_thread_count_is_resolved_in_one_place(monkeypatch):
    import os

    monkeypatch.delenv(model_files.THREADS_VAR, raising=False)
    assert model_files.resolve_threads() == (os.cpu_count() or 1)
    monkeypatch.setenv(model_files.THREADS_VAR, "3")
    assert model_files.resolve_threads() == 3
    assert model_files.resolve_threads(BackendOptions(threads=5).threads) == 5
    assert model_files.resolve_threads(BackendOptions().threads) == 3


@pytest.mark.slow
@pytest.mark.parametrize("engine", available_engines())
def test_embedded_and_hf_identity_is_their_model_id(engine):
    opts = BackendOptions(engine=engine, threads=2, dtype="float32")  # bfloat16: test_engines.py
    embedded = load_backend("embedded", opts)
    try:
        assert model_identity("embedded", opts) == embedded.model_id
        assert embedded.model_id.startswith("embedded:") and embedded.model_id.endswith(f"#{engine}")
        spec = f"hf:{embedded.model_dir}"
    finally:
        embedded.close()
    hf = load_backend(spec, opts)
    try:
        assert model_identity(spec, opts) == hf.model_id
        assert hf.model_id.startswith("hf:") and hf.model_id.endswith(f"#{engine}")
    finally:
        hf.close()
