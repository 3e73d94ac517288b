"""ms-swift prints every argument it was given, secrets too: its `run sh:` command line, then `args: ...`. What
swiftpipe copies of its output, to the stage log and to the screen, shows none of them."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from test_runner import _calls, _flag, _record

from swiftpipe.recipe.secrets import (
    REDACTED,
    OutputRedactor,
    redact_text,
    secret_values,
)

TOKEN, SWANLAB, API_KEY = "hf_secret123", "sw_secret456", "sk_secret789"


def test_no_secret_reaches_a_stage_log_or_the_screen(chain: Path, fake_swift: Path) -> None:
    env = {**os.environ, "FAKE_SWIFT_RUN_SH": "1", "FAKE_SWIFT_PRINT_ARGS": "1"}
    proc = subprocess.run([sys.executable, "-m", "swiftpipe", "run", str(chain), "--verbose",
                           "--set", f"sft.hub_token={TOKEN}",
                           "--set", f"sft.swanlab_token={SWANLAB}", "--set", f"merge.hub_token={TOKEN}",
                           "--set", f"infer.hub_token={API_KEY}"],
                          check=False, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    sft, merge = (next(c for c in _calls(fake_swift) if c["argv"][1] == sub) for sub in ("sft", "export"))
    assert _flag(sft, "--hub_token") == TOKEN and _flag(merge, "--hub_token") == TOKEN  # ms-swift gets them
    logs = {name: Path(stage["log"]).read_text() for name, stage in _record()["stages"].items()}
    for secret in (TOKEN, SWANLAB, API_KEY):
        assert secret not in proc.stdout + proc.stderr
        assert not [name for name, text in logs.items() if secret in text]
    # the lines are there, with the values hidden
    assert f"--hub_token {REDACTED} --swanlab_token {REDACTED}" in logs["sft"]  # the `run sh:` line
    assert "\nswanlab_token=<SWANLAB_TOKEN>,\n" in logs["sft"]  # TrainArguments hides a *_token itself
    assert f"hub_token='{REDACTED}'" in logs["merge"]  # ExportArguments(...)
    assert f"hub_token='{REDACTED}'" in logs["infer"]
    assert f"--swanlab_token {REDACTED}" in proc.stdout


# What ms-swift 3.12 printed, run on the tiny model with --swanlab_secret swsecret --swanlab_token swtok.
SFT_OUTPUT = """\
run sh: `/venv/bin/python /venv/lib/python3.11/site-packages/swift/cli/sft.py --model /tmp/tiny --model_type \
qwen2_5 --swanlab_secret swsecret --swanlab_token swtok --max_steps 1`
[INFO:swift] Setting args.lazy_tokenize: False
[INFO:swift] args: TrainArguments(
hub_token=<HUB_TOKEN>,
max_new_tokens=64,
swanlab_secret=swsecret,
swanlab_token=<SWANLAB_TOKEN>,
)
[INFO:swift] model_kwargs: {'device_map': 'cpu', 'dtype': torch.float32}
"""


def test_the_forms_ms_swift_prints_its_arguments_in_are_redacted_by_name() -> None:
    shown = redact_text(SFT_OUTPUT)  # no value known: by the names alone
    assert "swsecret" not in shown and "swtok" not in shown
    assert shown == (SFT_OUTPUT.replace("secret swsecret", f"secret {REDACTED}")
                     .replace("token swtok", f"token {REDACTED}").replace("=swsecret,", f"={REDACTED},"))
    exported = "[INFO:swift] args: ExportArguments(model='/m', hub_token='hf_x', push_to_hub=True, api_key=None)"
    assert redact_text(exported) == exported.replace("'hf_x'", f"'{REDACTED}'")  # None: nothing to hide
    given = """{'hub_token': 'a', "wandb_api_key": "b", 'max_new_tokens': 5} HF_TOKEN=c x"""
    assert redact_text(given) == given.replace("'a'", f"'{REDACTED}'").replace('"b"', f'"{REDACTED}"').replace(
        "=c", f"={REDACTED}")
    assert redact_text("--hub_token\n--dataset d") == "--hub_token\n--dataset d"  # a value never spans lines


def test_the_secrets_known_are_the_values_of_secret_flags_and_variables() -> None:
    argv = ["swift", "deploy", "--hub_token", "hf_aaaaaaaa", "--api_key=sk-bbbbbbbb", "--max_new_tokens", "5",
            "--token", "cccccccc"]
    assert secret_values(argv, {"HF_TOKEN": "dddddddd", "PATH": "/bin"}) == [
        "dddddddd", "hf_aaaaaaaa", "sk-bbbbbbbb", "cccccccc"]
    # a placeholder such as EMPTY is no secret to replace in every line (its name still hides it)
    assert secret_values(["swift", "infer"], {"OPENAI_API_KEY": "EMPTY"}) == []


def test_a_known_secret_is_redacted_in_any_form() -> None:
    shown = redact_text(f"GET https://hub/api?auth={TOKEN} 401", known=[TOKEN])  # `auth` names no secret
    assert shown == f"GET https://hub/api?auth={REDACTED} 401"


def test_a_secret_cut_between_two_reads_is_redacted_and_everything_else_passes_byte_for_byte() -> None:
    output = ("step 1 \x1b[32mloss\x1b[0m 0.5 \u00e9\r".encode() + b"\xff\xfe not utf-8\n"
              + f"[INFO:swift] args: ExportArguments(hub_token='{TOKEN}')\n".encode() + b"the last line, unended")
    for cut in range(1, len(output)):
        redactor = OutputRedactor([TOKEN])
        passed = redactor.feed(output[:cut]) + redactor.feed(output[cut:]) + redactor.end()
        assert passed == output.replace(TOKEN.encode(), REDACTED.encode()), cut


def test_a_line_longer_than_the_redactor_holds_is_passed_on() -> None:
    redactor = OutputRedactor(longest=10)
    assert redactor.feed(b"12345") == b""  # held: its end may hide a secret's start
    assert redactor.feed(b"678901") == b"12345678901"
    assert redactor.feed(b"ab\rcd") == b"ab\r"  # a progress bar's line ends at its carriage return
    assert redactor.end() == b"cd"
