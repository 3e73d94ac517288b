# make reasoning                                       # after the demo's tiny model: every stage below, on the CPU
# swiftpipe run recipes/reasoning.py --stage sft --stage grpo     # one method: the SFT it starts from is reused
# swiftpipe report recipes/reasoning.py                 # each method's rewards, objectives and losses, charted
"""Past SFT: GRPO with reward functions of the recipe's own, a reward model merged for PPO, KTO and ORPO, each from
the same SFT model, on sums of two numbers and the demo's tiny local model, on the CPU in minutes.

GRPO samples four answers a question and scores them with recipes/plugins/arithmetic_rewards.py (`closeness`, graded,
so that answers that are rarely right still differ; `exact`), reading each record's `solution`. The reward model
learns from right/wrong pairs as a LoRA; PPO needs a whole model to score with, so it is merged first. KTO reads
answers labelled right or wrong; ORPO the pairs, with no reference model. The data is datasets/arithmetic_*.jsonl.
"""
from __future__ import annotations

from swiftpipe import checkpoint, grpo, kto, make_recipe, merge, merged, orpo, ppo, reward_model, sft

# What every stage shares: the tiny model, short sequences, CPU-friendly loaders, no hub check.
TINY = {
    "model_type": "qwen2",
    "template": "qwen2_5",
    "torch_dtype": "float32",
    "max_length": 128,
    "per_device_train_batch_size": 4,
    "gradient_accumulation_steps": 1,
    "logging_steps": 1,
    "dataloader_num_workers": 0,
    "report_to": "none",
    "check_model": False,
}
# Each method after the SFT: a LoRA on the SFT model, a few steps (enough to chart; a real run trains for hours).
AFTER_SFT = {"model": checkpoint("sft"), "train_type": "lora", "learning_rate": 1e-3, **TINY}
STEPS = 8


def recipe(model: str = "work/tiny-qwen2-swift3", data: str = "datasets", output: str = "work/reasoning-swift3",
           rewards: str = "recipes/plugins/arithmetic_rewards.py"):
    prompts, pairs = f"{data}/arithmetic_prompts_sample.jsonl", f"{data}/arithmetic_pairs_sample.jsonl"
    return make_recipe("reasoning", [
        sft("sft", {"model": model, "train_type": "full", "dataset": f"{data}/arithmetic_sft_sample.jsonl",
                    "learning_rate": 5e-3, "output_dir": f"{output}/sft", **TINY, "num_train_epochs": 10,
                    "logging_steps": 5, "save_steps": 1000}),
        grpo("grpo", {**AFTER_SFT, "dataset": prompts, "reward_funcs": ["closeness", "exact"],
                      "external_plugins": rewards, "num_generations": 4, "max_completion_length": 4,
                      "temperature": 1.0, "use_vllm": False, "max_steps": STEPS, "output_dir": f"{output}/grpo"}),
        reward_model("rm", {**AFTER_SFT, "dataset": pairs, "max_steps": STEPS, "output_dir": f"{output}/rm"}),
        merge("merge_rm", {"ckpt_dir": checkpoint("rm")}),
        # PPO takes no --max_steps: one epoch of 16 questions (ms-swift's `#16`) is four steps
        ppo("ppo", {**AFTER_SFT, "reward_model": merged("merge_rm"), "dataset": f"{prompts}#16",
                    "num_train_epochs": 1, "response_length": 4, "output_dir": f"{output}/ppo"}),
        kto("kto", {**AFTER_SFT, "dataset": f"{data}/arithmetic_kto_sample.jsonl", "max_steps": STEPS,
                    "output_dir": f"{output}/kto"}),
        orpo("orpo", {**AFTER_SFT, "dataset": pairs, "max_steps": STEPS, "output_dir": f"{output}/orpo"}),
    ], description=__doc__.splitlines()[0])
