"""An imported 2.x or older 3.x call rewritten into the flags a recipe renders for both 3 and 4 (3.x names: `render`
spells them for 4), each change noted; the old spellings themselves are msswift/v2.py's (2.x) and msswift/retired.py's
(retired since).
"""
from __future__ import annotations

from swiftpipe.importer.calls import Call, Code, Flag, Imported, Item
from swiftpipe.msswift.retired import PLACEMENT, SERVER_GIVEN, successor
from swiftpipe.msswift.v2 import DATASETS, DROPPED, MODEL_ID_2X, RENAMES, SUBCOMMANDS, TWO_X_ONLY, Rename


def translate(call: Call, imported: Imported) -> None:
    """Rewrite `call` in place into flags that ms-swift 3 and 4 both accept (3.x spelling), noting each change."""
    for flag in call.flags:
        if not flag.values:  # `--gradient_checkpointing` alone: a switch turned on, as ms-swift's parser reads it
            flag.values, flag.many = [True], False
            imported.note(f"{call.file}:{flag.line}", "translated", f"--{flag.name} (no value) -> --{flag.name} true",
                          call=call)
    old = call.command
    if old in SUBCOMMANDS:
        call.command, implied = SUBCOMMANDS[old]
        imported.note(call.where, "translated", f"swift {old} -> swift {call.command}"
                      + "".join(f" --{k} {str(v).lower()}" for k, v in implied.items()), call=call)
        for name, value in reversed(list(implied.items())):
            if call.get(name) is None:
                call.flags.insert(0 if name == "rlhf_type" else len(call.flags), Flag(name, [value], call.line))
    two_x = old in SUBCOMMANDS or any(f.name in TWO_X_ONLY and (f.name != "model_type" or _is_2x_model(f))
                                      for f in call.flags)
    for flag in list(call.flags):
        where = f"{call.file}:{flag.line}"
        if flag.name in RENAMES:
            _rename(call, flag, RENAMES[flag.name], where, imported)
        elif flag.name in DROPPED:
            call.flags.remove(flag)
            imported.note(where, "dropped", f"--{flag.name} ({DROPPED[flag.name] or 'no ms-swift 3/4 counterpart'})",
                          call=call)
    _retired(call, imported)
    _grpo_placement(call, imported)
    _samples(call, imported)
    _special(call, imported, two_x)


def _rename(call: Call, flag: Flag, rule: Rename, where: str, imported: Imported, *, why: str = "") -> None:
    old, original = flag.name, list(flag.values)
    because = f" ({why})" if why else ""
    before = f"--{flag.name} {' '.join(_shown(v) for v in flag.values)}".strip()
    values = []
    for value in flag.values:
        mapped = rule.values.get(value, value) if isinstance(value, str) else value
        if mapped is not None:
            values.append(mapped)
    if original and not values:
        call.flags.remove(flag)
        imported.note(where, "dropped", f"{before} (ms-swift 3/4's default)", call=call)
        return
    existing = call.get(rule.new)
    if existing is not None and existing is not flag:
        existing.values += [v for v in values if v not in existing.values]
        existing.many = len(existing.values) > 1
        call.flags.remove(flag)
    else:
        flag.name, flag.values = rule.new, values
    if values == original and old == rule.new:
        return
    if values == original:
        imported.note(where, "translated", f"--{old} -> --{rule.new}{because}", call=call)
    else:
        after = f"--{rule.new} {' '.join(_shown(v) for v in values)}"
        imported.note(where, "translated", f"{before} -> {after}{because}", call=call)


def _retired(call: Call, imported: Imported) -> None:
    """Flags that releases since 2.x retired, as what took their place (msswift/retired.py). A switch whose value
    the script sets when it runs stays as written, for the flag check to name."""
    for flag in list(call.flags):
        rule = successor(flag.name, call.command)
        if rule is None:
            continue
        where = f"{call.file}:{flag.line}"
        before = f"--{flag.name} {' '.join(_shown(v) for v in flag.values)}".strip()
        if rule.new is None:
            call.flags.remove(flag)
            imported.note(where, "dropped", f"{before} ({rule.why})", call=call)
        elif rule.on is None:
            _rename(call, flag, Rename(rule.new), where, imported, why=rule.why)
        elif (on := _switch(flag)) is None:
            continue
        elif on and call.get(rule.new) is None:
            flag.name, flag.values, flag.written = rule.new, [rule.on], []
            imported.note(where, "translated", f"{before} -> --{rule.new} {_shown(rule.on)} ({rule.why})", call=call)
        else:
            call.flags.remove(flag)
            reason = f"--{rule.new} is given too" if on else "off, the default"
            imported.note(where, "dropped", f"{before} ({reason})", call=call)


def _grpo_placement(call: Call, imported: Imported) -> None:
    """GRPO's vLLM rollout placed as 3.12 and 4 require: `--vllm_mode`, which 3.5-3.11 chose themselves (server where
    a server is given, else colocate) and 3.2-3.4 read from `--num_infer_workers` (msswift/retired.py)."""
    if call.command != "rlhf":
        return
    workers = call.remove(PLACEMENT)
    use_vllm = call.get("use_vllm")
    on = _switch(use_vllm) if use_vllm is not None else False
    given = "" if workers is None else f"--{PLACEMENT} {' '.join(_shown(v) for v in workers.values)}"
    where = f"{call.file}:{(workers or use_vllm or call).line}"
    if use_vllm is None or on is not True or call.text("rlhf_type") != "grpo" or call.get("vllm_mode") is not None:
        if workers is None:
            return
        if on is None:
            imported.note(where, "warning", f"{given} dropped (3.6 removed it): where --use_vllm is true, add "
                          "--vllm_mode colocate or server", call=call)
        else:
            why = "--vllm_mode places the rollout" if on else "it placed a vLLM rollout, which this call does not run"
            imported.note(where, "dropped", f"{given} ({why})", call=call)
        return
    nproc = next((_shown(v) for k, v in call.env if k == "NPROC_PER_NODE"), "1")
    if any(call.get(name) is not None for name in SERVER_GIVEN):
        mode, why = "server", "3.5-3.11 chose it for the vLLM server given"
    elif workers is None:
        mode, why = "colocate", "3.5-3.11 chose it where no vLLM server is given"
    elif workers.values and str(workers.values[0]) == nproc:
        mode, why = "colocate", f"with {nproc} processes it ran vLLM on the training GPUs in 3.2-3.4"
    else:
        imported.note(where, "warning", f"{given} ran vLLM on GPUs of its own (3.2-3.4); 3.5 and later run it as a "
                      "`swift rollout` server: start one, then add --vllm_mode server --vllm_server_host HOST",
                      call=call)
        return
    call.flags.insert(call.flags.index(use_vllm) + 1, Flag("vllm_mode", [mode], use_vllm.line))
    imported.note(where, "translated", f"{given or '--use_vllm true'} -> --vllm_mode {mode} ({why}; 3.12 and 4 "
                  "require it)", call=call)


def _switch(flag: Flag) -> bool | None:
    """A boolean flag's setting as argparse reads it (bare is on), or None where the script sets it when it runs."""
    if not flag.values:
        return True
    text = str(flag.values[0]).lower() if isinstance(flag.values[0], (str, bool, int)) else ""
    return {"true": True, "yes": True, "t": True, "y": True, "1": True,
            "false": False, "no": False, "f": False, "n": False, "0": False}.get(text)


def _shown(value: Item) -> str:
    """A value as the command line writes it."""
    if isinstance(value, Code):
        return value.text
    return str(value).lower() if isinstance(value, bool) else str(value)


def _samples(call: Call, imported: Imported) -> None:
    """2.x's `train_dataset_sample N` / `val_dataset_sample N` -> `#N` on each dataset (-1, all, is the default);
    `self_cognition_sample N` -> the `swift/self-cognition#N` dataset."""
    for old, target in (("train_dataset_sample", "dataset"), ("val_dataset_sample", "val_dataset")):
        flag = call.remove(old)
        if flag is None:
            continue
        where = f"{call.file}:{flag.line}"
        count = flag.values[0] if flag.values else -1
        datasets = call.get(target)
        if count in (-1, "-1") or datasets is None:
            imported.note(where, "dropped", f"--{old} {count} (every record is used by default)", call=call)
            continue
        datasets.values = [f"{v}#{count}" if isinstance(v, str) else v for v in datasets.values]
        imported.note(where, "translated", f"--{old} {count} -> `#{count}` on each --{target} (2.x sampled {count} "
                      "from them all)", call=call)
    flag = call.remove("self_cognition_sample")
    if flag is not None and flag.values and flag.values[0] not in (0, "0"):
        datasets = call.get("dataset") or Flag("dataset", [], flag.line)
        if datasets not in call.flags:
            call.flags.append(datasets)
        datasets.values.append(f"swift/self-cognition#{flag.values[0]}")
        datasets.many = True
        imported.note(f"{call.file}:{flag.line}", "translated", f"--self_cognition_sample {flag.values[0]} -> "
                      f"--dataset ... swift/self-cognition#{flag.values[0]}", call=call)


def _special(call: Call, imported: Imported, two_x: bool) -> None:
    flag = call.get("quantization_bit")
    if flag is not None:
        at = call.flags.index(flag)
        bits = flag.values[0]
        call.flags[at:at + 1] = [Flag("quant_method", ["bnb"], flag.line), Flag("quant_bits", [bits], flag.line)]
        imported.note(f"{call.file}:{flag.line}", "translated", f"--quantization_bit {bits} -> --quant_method bnb "
                      f"--quant_bits {bits}", call=call)
    flag = call.get("use_flash_attn")
    if flag is not None:
        on = flag.values and flag.values[0] in (True, "True", "true")
        where = f"{call.file}:{flag.line}"
        if on:
            flag.name, flag.values = "attn_impl", ["flash_attn"]
            imported.note(where, "translated", "--use_flash_attn true -> --attn_impl flash_attn", call=call)
        else:
            call.flags.remove(flag)
            imported.note(where, "dropped", "--use_flash_attn false (the default)", call=call)
    flag = call.get("model_type")
    if flag is not None and _is_2x_model(flag):
        where = f"{call.file}:{flag.line}"
        call.flags.remove(flag)
        if call.get("model") is None and call.get("ckpt_dir") is None and call.get("adapters") is None:
            call.flags.insert(0, Flag("model", [imported.param("model", f"<MODEL for 2.x model_type "
                                                               f"{flag.values[0]}>", where=where,
                                                               origin="--model_type")], flag.line))
            imported.note(where, "warning", f"--model_type {flag.values[0]} named a model in 2.x; ms-swift 3/4 need "
                          "its id or path: set the recipe's `model` parameter", call=call)
        else:
            imported.note(where, "dropped", f"--model_type {flag.values[0]} (a 2.x model id; 3/4 read the type from "
                          "the model)", call=call)
    flag = call.get("max_length")
    if flag is not None and flag.values in ([-1], ["-1"]):
        call.flags.remove(flag)
        imported.note(f"{call.file}:{flag.line}", "dropped", "--max_length -1 (no limit: 3/4 use the model's own)",
                      call=call)
    if two_x:
        _two_x_datasets(call, imported)
        if call.command == "pt" and call.get("train_type") is None:
            call.flags.insert(1 if call.get("model") else 0, Flag("train_type", ["full"], call.line))
            imported.note(call.where, "translated", "2.x `swift pt` trained every parameter; 3/4 default to LoRA: "
                          "--train_type full added", call=call)


def _two_x_datasets(call: Call, imported: Imported) -> None:
    for flag in (call.get("dataset"), call.get("val_dataset")):
        if flag is None:
            continue
        for i, value in enumerate(flag.values):
            if not isinstance(value, str):
                continue
            name, sep, count = value.partition("#")
            if name in DATASETS:
                flag.values[i] = DATASETS[name] + sep + count
                imported.note(f"{call.file}:{flag.line}", "translated", f"2.x dataset {name} -> {DATASETS[name]}",
                              call=call)
            elif "/" not in name and "." not in name:
                imported.note(f"{call.file}:{flag.line}", "warning", f"{name} is a 2.x registered dataset name; "
                              "ms-swift 3/4 need its hub id", call=call)


def _is_2x_model(flag: Flag) -> bool:
    """A 2.x `--model_type`: a model id such as qwen-14b-chat, not a 3/4 family such as qwen2."""
    return bool(flag.values) and isinstance(flag.values[0], str) and bool(MODEL_ID_2X.search(flag.values[0]))

