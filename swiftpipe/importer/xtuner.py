"""xtuner: a training config (a Python file of module-level settings and `model = dict(...)`, read with `ast`, never
executed) as one ms-swift training call, and the `xtuner train|convert|chat` command lines of a shell script:
`--work-dir` is the output_dir, `--deepspeed deepspeed_zero1` the zero1 preset, `convert pth_to_hf` + `convert
merge` one merge stage, `chat` an infer stage."""
from __future__ import annotations

import ast
import posixpath
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from swiftpipe.importer.calls import Call, Flag, Imported, ImportProblem, hub_id

# xtuner's PROMPT_TEMPLATE names -> ms-swift templates
TEMPLATES = {"internlm2_chat": "internlm2", "internlm_chat": "internlm", "qwen_chat": "qwen", "llama3_chat": "llama3",
              "llama2_chat": "llama", "chatglm3": "chatglm3", "baichuan2_chat": "baichuan", "mistral": "mistral",
              "deepseek_v2": "deepseek_v2_5", "phi3_chat": "phi3", "gemma": "gemma", "qwen2_5_chat": "qwen2_5"}
# module-level setting -> ms-swift flag, in the order they are written
_SETTINGS = {"max_length": "max_length", "batch_size": "per_device_train_batch_size",
             "accumulative_counts": "gradient_accumulation_steps", "dataloader_num_workers": "dataloader_num_workers",
             "max_epochs": "num_train_epochs", "lr": "learning_rate", "weight_decay": "weight_decay",
             "max_norm": "max_grad_norm", "warmup_ratio": "warmup_ratio", "save_steps": "save_steps",
             "save_total_limit": "save_total_limit"}
_DROPPED = {"evaluation_freq": "xtuner's sample answers during training", "evaluation_inputs": "",
            "use_varlen_attn": "", "optim_type": "ms-swift uses AdamW", "betas": "ms-swift's AdamW defaults"}


def looks_like(tree: ast.Module) -> bool:
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "xtuner":
            return True
    return False


def read(path: str, text: str, imported: Imported) -> None:
    """Add the training call an xtuner config describes."""
    imported.calls.append(config_call(path, text, imported, line=1))


def config_call(path: str, text: str, imported: Imported, *, line: int) -> Call:
    try:
        tree = ast.parse(text)
    except SyntaxError as exc:
        raise ImportProblem(f"not valid Python: {exc.msg}", where=f"{path}:{exc.lineno}") from None
    settings = _Settings(path)
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            settings.assign(node.targets[0].id, node.value)
    pretraining = "pretrain_map_fn" in text
    call = Call("pt" if pretraining else "sft", [], [], path, line)
    add = _adder(call)
    llm = settings.get("model", {}).get("llm", {}) if isinstance(settings.get("model"), dict) else {}
    add("model", llm.get("pretrained_model_name_or_path", settings.get("pretrained_model_name_or_path")),
        settings.line("pretrained_model_name_or_path"))
    lora = settings.get("model", {}).get("lora") if isinstance(settings.get("model"), dict) else None
    add("train_type", "lora" if isinstance(lora, dict) else "full", settings.line("model"))
    add("torch_dtype", _name(llm.get("torch_dtype")), settings.line("model"))
    quantization = llm.get("quantization_config") or {}
    if quantization.get("load_in_4bit") or quantization.get("load_in_8bit"):
        add("quant_method", "bnb", settings.line("model"))
        add("quant_bits", 4 if quantization.get("load_in_4bit") else 8, settings.line("model"))
        for key in ("bnb_4bit_quant_type", "bnb_4bit_use_double_quant", "bnb_4bit_compute_dtype"):
            add(key, _name(quantization.get(key)), settings.line("model"))
    if isinstance(lora, dict):
        add("lora_rank", lora.get("r"), settings.line("model"))
        add("lora_alpha", lora.get("lora_alpha"), settings.line("model"))
        add("lora_dropout", lora.get("lora_dropout"), settings.line("model"))
        if lora.get("target_modules"):
            add("target_modules", lora["target_modules"], settings.line("model"))
    loader = settings.get("train_dataloader")
    data, hub = _datasets(loader.get("dataset") if isinstance(loader, dict) else settings.get("train_dataset"))
    if not data:
        data, hub = settings.get("data_files", settings.get("data_path")), False
    add("dataset", data, settings.line("train_dataset") or settings.line("data_files") or settings.line("data_path"))
    model = call.get("model")
    if hub or (model and hub_id(model.values[0])):
        add("use_hf", True, settings.line("pretrained_model_name_or_path"))  # xtuner loads from the Hugging Face Hub
        if model and not hub:
            call.flags[-1].implied_by = "model"
    template = _name(settings.get("prompt_template"))
    if template and not pretraining:
        if template in TEMPLATES:
            add("template", TEMPLATES[template], settings.line("prompt_template"))
        else:
            imported.note(f"{path}:{settings.line('prompt_template')}", "dropped", f"prompt_template {template} (no "
                          "ms-swift template of that name; ms-swift uses the model's own)", call=call)
    for name, flag in _SETTINGS.items():
        add(flag, settings.get(name), settings.line(name))
    if settings.get("pack_to_max_length"):
        add("packing", True, settings.line("pack_to_max_length"))
        imported.note(f"{path}:{settings.line('pack_to_max_length')}", "warning", "pack_to_max_length -> --packing "
                      "true, which ms-swift runs with flash attention only", call=call)
    system = settings.get("SYSTEM")
    if isinstance(system, Symbol):
        imported.note(f"{path}:{settings.line('SYSTEM')}", "dropped", f"SYSTEM = {system.name} (xtuner's own text; "
                      "ms-swift's template brings its default system prompt)", call=call)
    elif system and not pretraining:
        add("system", system, settings.line("SYSTEM"))
    for name, why in _DROPPED.items():
        if settings.get(name) not in (None, False, [], ""):
            imported.note(f"{path}:{settings.line(name)}", "dropped", f"{name}" + (f" ({why})" if why else ""),
                          call=call)
    return call


@dataclass(frozen=True)
class Symbol:
    """A name the config imports (`torch.float16`, `PROMPT_TEMPLATE.internlm2_chat`, `SupervisedFinetune`): its last
    part, never a value to pass on as text."""

    name: str


def _name(value: Any) -> Any:
    return value.name if isinstance(value, Symbol) else value


def _datasets(spec: Any) -> tuple[list[str], bool]:
    """The files or hub ids a `train_dataset = dict(dataset=dict(type=load_dataset, path=..., data_files=...))` loads
    (each part of a ConcatDataset), and whether they come from the Hugging Face Hub."""
    if not isinstance(spec, dict):
        return [], False
    if isinstance(spec.get("datasets"), list):
        found = [_datasets(part) for part in spec["datasets"]]
        return [d for files, _ in found for d in files], any(hub for _, hub in found)
    loader = spec.get("dataset")
    if not isinstance(loader, dict):
        return [], False
    path, files = loader.get("path"), loader.get("data_files")
    if path in ("json", "csv", "text", "parquet") and files:
        files = files if isinstance(files, list) else list(files.values()) if isinstance(files, dict) else [files]
        return [f for f in files if isinstance(f, str)], False
    if isinstance(path, str):
        return [path], True
    return [], False


def _adder(call: Call) -> Callable[[str, Any, int], None]:
    def add(name: str, value: Any, line: int) -> None:
        if value is None or value == [] or value == "":
            return
        values = list(value) if isinstance(value, (list, tuple)) else [value]
        call.flags.append(Flag(name, values, line or call.line, many=isinstance(value, (list, tuple))))
    return add


class _Settings:
    """The config's module-level values: literals, names of other settings, `dict(...)`, f-strings; a class or
    function (`SupervisedFinetune`, `torch.float16`) reads as its last name (`float16`)."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.values: dict[str, Any] = {}
        self.lines: dict[str, int] = {}

    def get(self, name: str, default: Any = None) -> Any:
        return self.values.get(name, default)

    def line(self, name: str) -> int:
        return self.lines.get(name, 0)

    def assign(self, name: str, node: ast.expr) -> None:
        self.values[name] = self.value(node)
        self.lines[name] = node.lineno

    def value(self, node: ast.expr) -> Any:
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, (ast.List, ast.Tuple)):
            return [self.value(e) for e in node.elts]
        if isinstance(node, ast.Dict):
            return {self.value(k): self.value(v) for k, v in zip(node.keys, node.values) if k is not None}
        if isinstance(node, ast.Name):
            return self.values.get(node.id, Symbol(node.id))
        if isinstance(node, ast.Attribute):
            return Symbol(node.attr)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "dict":
            return {k.arg: self.value(k.value) for k in node.keywords if k.arg}
        if isinstance(node, ast.JoinedStr):
            return "".join(str(self.value(v.value if isinstance(v, ast.FormattedValue) else v)) for v in node.values)
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
            left, right = self.value(node.left), self.value(node.right)
            return left + right if type(left) is type(right) and isinstance(left, (str, list)) else None
        return None


_DEEPSPEED = re.compile(r"^deepspeed_(zero\d)(_offload)?$")


def command_call(words: list[str], *, script: str, line: int, imported: Imported) -> Call | None:
    """`xtuner train CONFIG --work-dir D --deepspeed deepspeed_zero1` as the training call of CONFIG (found beside the
    script or from the working directory), with its output_dir and deepspeed preset."""
    where = f"{script}:{line}"
    if len(words) < 3 or words[1] != "train":
        return None
    config = next((p for p in (Path(script).parent / words[2], Path(words[2])) if p.is_file()), None)
    if config is None:
        raise ImportProblem(f"xtuner train {words[2]}: the config is not here (give it beside the script, or import "
                            "the config file itself)", where=where)
    call = config_call(str(config), config.read_text(encoding="utf-8"), imported, line=1)
    call.file, call.line = script, line
    options = _options(words[3:])
    if "work-dir" in options:
        call.flags.append(Flag("output_dir", [options["work-dir"]], line))
    if "deepspeed" in options:
        match = _DEEPSPEED.match(options["deepspeed"])
        preset = f"{match.group(1)}{'_offload' if match.group(2) else ''}" if match else options["deepspeed"]
        call.flags.append(Flag("deepspeed", [preset], line))
    imported.note(where, "translated", f"xtuner train {words[2]} -> swift {call.command} with the config's settings",
                  call=call)
    return call


def _options(words: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for i, word in enumerate(words):
        if word.startswith("--"):
            name, equals, value = word[2:].partition("=")
            out[name.replace("_", "-")] = value if equals else (words[i + 1] if i + 1 < len(words) else "")
    return out


class CommandLines:
    """A script's `xtuner train|convert|chat` lines, in order: `convert pth_to_hf` + `convert merge` are one merge
    of the run whose config they name."""

    def __init__(self, script: str, imported: Imported) -> None:
        self.script, self.imported = script, imported
        self.runs: dict[str, Call] = {}  # config file name -> its `xtuner train` call
        self.converted: dict[str, Call] = {}  # `pth_to_hf` output folder -> the training call it came from

    def call(self, texts: list[str], *, line: int) -> Call | None:
        """The ms-swift call one xtuner command line stands for (None: none, or not yet)."""
        where = f"{self.script}:{line}"
        if texts[1:2] == ["train"]:
            call = command_call(texts, script=self.script, line=line, imported=self.imported)
            if call is not None:
                self.runs[Path(texts[2]).name] = call
            return call
        if texts[1:3] == ["convert", "pth_to_hf"] and len(texts) >= 6:
            trained = self.runs.get(Path(texts[3]).name) or next(
                (c for c in reversed(self.imported.calls) if c.command in ("pt", "sft")), None)
            if trained is not None:
                self.converted[posixpath.normpath(texts[5])] = trained
            return None
        if texts[1:3] == ["convert", "merge"] and len(texts) >= 6:
            return self._merge(texts, line, where)
        if texts[1:2] == ["chat"] and len(texts) >= 3:
            call = Call("infer", [Flag("model", [texts[2]], line)], [], self.script, line)
            options = dict(zip(texts[3::2], texts[4::2]))
            template = options.get("--prompt-template")
            if template in TEMPLATES:
                call.flags.append(Flag("template", [TEMPLATES[template]], line))
            if options.get("--system"):
                call.flags.append(Flag("system", [options["--system"]], line))
            self.imported.note(where, "translated", "xtuner chat -> swift infer (a chat in the terminal)", call=call)
            return call
        self.imported.note(where, "dropped", f"xtuner {' '.join(texts[1:3])} (no ms-swift stage)")
        return None

    def _merge(self, texts: list[str], line: int, where: str) -> Call:
        trained = self.converted.get(posixpath.normpath(texts[4]))
        out = trained.text("output_dir") if trained is not None else None
        adapters = f"{out or 'output'}/vx-xxx/checkpoint-xxx" if trained is not None else texts[4]
        call = Call("export", [Flag("adapters", [adapters], line), Flag("merge_lora", [True], line),
                               Flag("output_dir", [texts[5]], line)], [], self.script, line)
        size = next((texts[i + 1] for i, t in enumerate(texts) if t == "--max-shard-size" and i + 1 < len(texts)),
                    None)
        if size:
            call.flags.append(Flag("max_shard_size", [size], line))
        self.imported.note(where, "translated", "xtuner convert pth_to_hf + merge -> swift export --merge_lora true "
                           "(ms-swift merges its own checkpoints directly)", call=call)
        return call
