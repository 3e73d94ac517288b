"""LLaMA-Factory YAML configs (`llamafactory-cli train|export|chat|webchat X.yaml`) as ms-swift calls: `stage` picks
the subcommand, keys are renamed to ms-swift's flags, dataset names are resolved through the `dataset_info.json` in
the config's `dataset_dir` (else the one given with `--dataset-info`; a name neither has becomes a recipe parameter),
and every key with no ms-swift counterpart is reported, never dropped silently."""
from __future__ import annotations

import json
import re
from functools import cached_property
from pathlib import Path
from typing import Any

import yaml

from swiftpipe.importer.calls import Call, Code, Flag, Imported, ImportProblem, Item, hub_id
from swiftpipe.importer.dataset_info import Registry, above, columns_of, registry

# LLaMA-Factory keys that only its trainer reads, with why ms-swift needs none.
_NOT_NEEDED = {
    "do_train": "ms-swift's subcommand says it", "overwrite_cache": "ms-swift keeps no tokenised cache to overwrite",
    "overwrite_output_dir": "ms-swift writes each run into its own vN-<timestamp> folder",
    "plot_loss": "ms-swift always plots its loss", "trust_remote_code": "ms-swift trusts the model's code",
    "resume_from_checkpoint": "`swiftpipe run --resume` continues a run", "stage": "", "finetuning_type": "",
    "dataset": "", "eval_dataset": "", "dataset_dir": "", "template": "", "max_samples": "", "bf16": "", "fp16": "",
    "flash_attn": "", "quantization_bit": "", "quantization_method": "", "pref_loss": "", "export_dir": "",
    "export_size": "", "export_device": "cpu or GPU is chosen by CUDA_VISIBLE_DEVICES",
    "export_legacy_format": "ms-swift writes safetensors", "infer_backend": "", "adapter_name_or_path": "",
    "model_name_or_path": "", "lora_target": "", "cutoff_len": "", "val_size": "",
}
_RENAMED = {"preprocessing_num_workers": "dataset_num_proc", "pref_beta": "beta", "pref_ftx": "rpo_alpha",
            "additional_target": "modules_to_save", "loraplus_lr_ratio": "lorap_lr_ratio",
            "image_max_pixels": "max_pixels"}
_STAGES = {"pt": ("pt", None), "sft": ("sft", None), "dpo": ("rlhf", "dpo"), "kto": ("rlhf", "kto"),
           "rm": ("rlhf", "rm"), "ppo": ("rlhf", "ppo")}
_PREFERENCE_LOSS = {"orpo": "orpo", "simpo": "simpo"}  # pref_loss that is its own ms-swift rlhf_type
# LLaMA-Factory template -> ms-swift template, where ms-swift has the same one; the rest are left to ms-swift,
# which picks the model's own template.
_TEMPLATES = {"llama3": "llama3", "qwen3": "qwen3", "glm4": "glm4", "mistral": "mistral", "gemma": "gemma",
              "chatglm3": "chatglm3", "baichuan2": "baichuan", "yi": "yi", "deepseek": "deepseek",
              "internlm2": "internlm2", "phi": "phi3"}
_ATTENTION = {"fa2": "flash_attn", "sdpa": "sdpa", "disabled": "eager"}
_SECTION_GLUED = re.compile(r"(?<=[^\s#])(#{2,}\s*\w+)\s*$", re.M)  # `true### method`: a header lost its line break


def looks_like(text: str) -> bool:
    return bool(re.search(r"^(stage|model_name_or_path|finetuning_type|export_dir)\s*:", text, re.M))


def read(path: str, text: str, imported: Imported, *, overrides: dict[str, str] | None = None,
         dataset_info: Registry | None = None) -> None:
    """Add the call one LLaMA-Factory config describes (`overrides`: `key=value` from llamafactory-cli's command
    line, which take precedence, as there; `dataset_info`: the registry for names the config's own has not)."""
    repaired = _SECTION_GLUED.sub(r"  # \1", text)
    glued = _SECTION_GLUED.search(text)
    if glued is not None:
        line = text[:glued.start()].count("\n") + 1
        imported.note(f"{path}:{line}", "repaired", "section headers (`### method`) glued to the value before them "
                      "read as the comments they were")
    try:
        root = yaml.compose(repaired)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise ImportProblem(f"not valid YAML: {getattr(exc, 'problem', exc)}",
                            where=f"{path}:{mark.line + 1 if mark else 1}") from None
    if not isinstance(root, yaml.MappingNode):
        raise ImportProblem("a LLaMA-Factory config is a mapping of keys", where=path)
    constructor = yaml.constructor.SafeConstructor()
    keys = [(k.value, constructor.construct_object(v, deep=True), k.start_mark.line + 1) for k, v in root.value]
    for key, value in (overrides or {}).items():
        parsed = yaml.safe_load(value) if value else None
        keys = [(k, parsed, line) if k == key else (k, v, line) for k, v, line in keys]
        if all(k != key for k, _, _ in keys):
            keys.append((key, parsed, len(text.splitlines())))
    _Config(path, dict((k, (v, line)) for k, v, line in keys), [k for k, _, _ in keys], imported,
            dataset_info).call()


class _Config:
    def __init__(self, path: str, values: dict[str, tuple[Any, int]], order: list[str], imported: Imported,
                 given: Registry | None) -> None:
        self.path, self.values, self.order, self.imported, self.given = path, values, order, imported, given
        self.flags: list[Flag] = []
        self.known: frozenset[str] | None = None  # the installed ms-swift's flags for the subcommand
        self.columns: dict[str, str] = {}  # file column -> ms-swift's name, over all the stage's datasets

    def get(self, key: str, default: Any = None) -> Any:
        return self.values[key][0] if key in self.values else default

    def line(self, key: str) -> int:
        return self.values[key][1] if key in self.values else 1

    def add(self, name: str, value: Any, key: str) -> None:
        if value is None:
            return
        if isinstance(value, dict):
            value = json.dumps(value, ensure_ascii=False)  # ms-swift takes a mapping as JSON text
        values = list(value) if isinstance(value, list) else [value]
        self.flags.append(Flag(name, values, self.line(key), many=isinstance(value, list) and len(values) > 1))

    def note(self, key: str, category: str, text: str) -> None:
        self.imported.note(f"{self.path}:{self.line(key)}", category, text)

    def call(self) -> None:
        from swiftpipe.msswift.arguments import known_flags

        command, rlhf_type = self._command()
        self.known = known_flags(command)
        if rlhf_type:
            self.flags.append(Flag("rlhf_type", [rlhf_type], self.line("stage")))
        for key in self.order:
            self._key(key, command)
        if self.columns:  # one --columns for every dataset of the stage, as ms-swift applies it
            at = next(i for i, f in enumerate(self.flags) if f.name in ("dataset", "val_dataset"))
            self.flags.insert(at + 1, Flag("columns", [json.dumps(self.columns, ensure_ascii=False)],
                                           self.flags[at].line))
        if command == "export":
            self.flags.append(Flag("merge_lora", [True], self.line("export_dir")))
        call = Call(command, self.flags, [], self.path, 1)
        self.imported.calls.append(call)
        for finding in list(self.imported.findings):
            if finding.where.startswith(f"{self.path}:") and str(finding) not in call.notes:
                call.notes.append(str(finding))

    def _command(self) -> tuple[str, str | None]:
        if "export_dir" in self.values:
            return "export", None
        stage = self.get("stage")
        if stage is None:
            return "infer", None  # a chat config: model, adapter, template
        if stage not in _STAGES:
            raise ImportProblem(f"stage: {stage!r} is not a LLaMA-Factory stage swiftpipe knows (pt, sft, dpo, kto, "
                                "rm, ppo)", where=f"{self.path}:{self.line('stage')}")
        command, rlhf_type = _STAGES[stage]
        if stage == "dpo" and self.get("pref_loss") in _PREFERENCE_LOSS:
            rlhf_type = _PREFERENCE_LOSS[self.get("pref_loss")]
        return command, rlhf_type

    def _key(self, key: str, command: str) -> None:
        value = self.get(key)
        if key == "model_name_or_path":
            self.add("model", value, key)
            if hub_id(value) and self.get("use_hf") is None:
                self.add("use_hf", True, key)
                self.flags[-1].implied_by = "model"  # not if the model turns out to be an earlier stage's output
        elif key == "adapter_name_or_path":
            self.add("adapters", [a.strip() for a in str(value).split(",")] if "," in str(value) else value, key)
        elif key == "finetuning_type":
            if value not in ("lora", "full"):
                self.note(key, "dropped", f"finetuning_type: {value} has no ms-swift counterpart; the stage trains "
                          "with LoRA, ms-swift's default")
            elif command != "export" and "stage" in self.values:
                self.add("train_type", value, key)
        elif key == "lora_target":
            targets = [t.strip() for t in str(value).split(",")]
            self.add("target_modules", ["all-linear"] if targets == ["all"] else targets, key)
        elif key in ("dataset", "eval_dataset"):
            self.add("dataset" if key == "dataset" else "val_dataset", self._datasets(key), key)
        elif key == "cutoff_len":
            self.add("max_length", value, key)
        elif key == "val_size":
            self.add("split_dataset_ratio", value, key)
        elif key == "template":
            if value in _TEMPLATES:
                self.add("template", _TEMPLATES[value], key)
            else:
                self.note(key, "dropped", f"template: {value} (ms-swift uses the model's own chat template)")
        elif key in ("bf16", "fp16"):
            if value is True:
                self.add("torch_dtype", "bfloat16" if key == "bf16" else "float16", key)
        elif key == "flash_attn":
            if value in _ATTENTION:
                self.add("attn_impl", _ATTENTION[value], key)
        elif key == "quantization_bit":
            method = self.get("quantization_method", "bnb")
            self.add("quant_method", method if method in ("bnb", "hqq", "eetq") else "bnb", key)
            self.add("quant_bits", value, key)
        elif key == "pref_loss":
            if value not in _PREFERENCE_LOSS and value != "sigmoid":
                self.add("loss_type", value, key)
        elif key == "export_dir":
            self.add("output_dir", value, key)
        elif key == "export_size":
            self.add("max_shard_size", f"{value}GB", key)
        elif key == "infer_backend":
            self.add("infer_backend", {"huggingface": "pt"}.get(value, value), key)
        elif key in _RENAMED:
            self.add(_RENAMED[key], value, key)
        elif key in _NOT_NEEDED:
            if _NOT_NEEDED[key] and value not in (None, False):
                self.note(key, "dropped", f"{key}: {value} ({_NOT_NEEDED[key]})")
        elif self.known is None or key in self.known:
            self.add(key, value, key)  # the Hugging Face trainer's own arguments have the same names in ms-swift
        else:
            self.note(key, "dropped", f"{key}: {value} has no ms-swift counterpart")

    def _datasets(self, key: str) -> list[Item]:
        value = self.get(key)
        items = value if isinstance(value, list) else str(value).split(",")  # `a,b`, as LLaMA-Factory splits it
        names = [str(n).strip() for n in items if str(n).strip()]
        own = self._own_registry
        count = self.get("max_samples")
        if count and (key == "dataset" or "dataset" not in self.values):  # once for the config
            self.note("max_samples", "translated", f"max_samples: {count} -> `#{count}` on each dataset")
        out: list[Item] = []
        for name in names:
            registered = next((r for r in (own, self.given) if r is not None and name in r.entries), None)
            dataset = self._unresolved(name, own, key) if registered is None else self._dataset(name, registered, key)
            if count:
                dataset = Code(f'f"{{{dataset.text}}}#{count}"') if isinstance(dataset, Code) else f"{dataset}#{count}"
            out.append(dataset)
        return out

    @cached_property
    def _own_registry(self) -> Registry | None:
        """The dataset_info.json in the config's dataset_dir: beside the config, in the folder swiftpipe runs in, or
        in one of the folders above the config, up to its repository's top (where llamafactory-cli is run from)."""
        dataset_dir = str(self.get("dataset_dir", "data"))
        beside = Path(self.path).parent
        for file in (beside / dataset_dir / "dataset_info.json", beside / "dataset_info.json",
                     Path(dataset_dir) / "dataset_info.json"):
            if file.is_file():
                return registry(file)
        for folder in above(beside):
            if folder.is_relative_to(Path.cwd()):
                folder = folder.relative_to(Path.cwd())  # paths as relative as the config's own
            if (folder / dataset_dir / "dataset_info.json").is_file():
                self.note("dataset_dir", "translated", f"dataset_dir: {dataset_dir} -> {folder / dataset_dir}/ "
                          "(llamafactory-cli reads it from the folder it runs in: here the one above the config "
                          "that has it)")
                return registry(folder / dataset_dir / "dataset_info.json")
        return None

    def _unresolved(self, name: str, own: Registry | None, key: str) -> Code:
        """A registered name that no dataset_info.json at hand has: a recipe parameter whose default is the name."""
        folder = Path(self.path).parent / str(self.get("dataset_dir", "data"))
        looked = f"not an entry of {own.file}" if own else f"no dataset_info.json in {folder}/ nor above the config"
        if self.given is not None and (own is None or own.file != self.given.file):
            looked += f", nor of {self.given.file}"
        identifier = re.sub(r"\W", "_", name)
        param = self.imported.param(identifier if identifier.isidentifier() else f"dataset_{identifier}", name,
                                    where=f"{self.path}:{self.line(key)}", origin=name)
        self.note(key, "warning", f"{key}: {name} names an entry of LLaMA-Factory's dataset_info.json that was not "
                  f"found ({looked}); it is the recipe parameter {param.text}: resolve it with `swiftpipe import "
                  f"--dataset-info FILE`, or at run time with `-p {param.text}=PATH`")
        return param

    def _dataset(self, name: str, info: Registry, key: str) -> str:
        where = f"{self.path}:{self.line(key)}"
        spec = info.entries[name]
        if not isinstance(spec, dict):
            raise ImportProblem(f"{key}: {name}: its entry in {info.file} is not a mapping", where=where)
        for hub, flag in (("hf_hub_url", True), ("ms_hub_url", False)):
            if hub in spec:
                if flag and self.get("use_hf") is None and not any(f.name == "use_hf" for f in self.flags):
                    self.add("use_hf", True, key)
                return spec[hub] + (f":{spec['subset']}" if spec.get("subset") else "")
        purpose = {"pt": "pt", "dpo": "dpo", "kto": "dpo", "rm": "dpo"}.get(str(self.get("stage")), "sft")
        if "file_name" not in spec:
            raise ImportProblem(f"{key}: {name} in {info.file} has no file_name (a script or a remote dataset)",
                                where=where)
        file = info.file.parent / spec["file_name"]
        if spec.get("ranking") and spec.get("formatting") == "sharegpt":
            self.note(key, "warning", f"{name} is ranked sharegpt (chosen/rejected messages); ms-swift's preference "
                      f"data is messages plus rejected_response: check it with `swiftpipe data validate {file} "
                      "--kind dpo`")
        columns = columns_of(spec, purpose)
        for column, role in columns.items():
            if self.columns.get(column, role) != role:
                self.note(key, "warning", f"{name}'s column {column} is {role}, but another dataset's column of that "
                          f"name is {self.columns[column]}; ms-swift's --columns applies to every dataset")
            self.columns.setdefault(column, role)
        if columns:
            self.note(key, "translated", f"{name}'s columns -> --columns {json.dumps(columns, ensure_ascii=False)}")
        if spec.get("formatting") == "sharegpt" and (spec.get("tags") or {}).get("role_tag", "from") != "from":
            self.note(key, "warning", f"{name} has its own role tags; convert it for ms-swift first: swiftpipe data "
                      f"convert {info.file} {file.with_suffix('.swift.jsonl')} --entry {name} --to {purpose}")
        return str(file)
