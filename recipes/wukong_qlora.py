# swiftpipe render recipes/wukong_qlora.py                   # the commands, for the installed ms-swift
# swiftpipe render recipes/wukong_qlora.py --swift-version 4
# swiftpipe run recipes/wukong_qlora.py                      # pretrain -> merge_pretrain -> sft -> merge -> chat
"""QLoRA pretrain -> merge -> SFT -> merge -> chat for InternLM2.5-1.8B-Chat, from the xtuner tutorial (seed 002).

Made with `swiftpipe import` from the tutorial's `xtuner train|convert|chat` commands and its two configs
(internlm2_5-1_8b-chat_pretrain.py, internlm2_5_chat_1_8b_qlora_wulewule_all_test.py), then tidied. What the
import translated:
- xtuner's `model = dict(llm=dict(quantization_config=dict(load_in_4bit=True, bnb_4bit_quant_type='nf4', ...)),
  lora=dict(r=64, lora_alpha=128, lora_dropout=0.1))` -> QLoRA in ms-swift: --quant_method bnb --quant_bits 4 and
  the bnb_4bit_* flags, --lora_rank 64 --lora_alpha 128 --lora_dropout 0.1.
- lr, batch_size, accumulative_counts, max_epochs, max_norm -> learning_rate, per_device_train_batch_size,
  gradient_accumulation_steps, num_train_epochs, max_grad_norm; `--work-dir` -> output_dir; `--deepspeed
  deepspeed_zero1` -> zero1; PROMPT_TEMPLATE.internlm2_chat -> template internlm2; SYSTEM -> system.
- `xtuner convert pth_to_hf` + `xtuner convert merge` -> one `swift export --merge_lora true` (ms-swift merges its
  own checkpoints); `xtuner chat` -> an interactive `swift infer`.
- Dropped: evaluation_freq/evaluation_inputs (xtuner's sample answers during training), optim_type, betas.
The tutorial's merge of the pretraining run is implied by its SFT config's model path
(`pretrain/merged_internlm2_5-1_8b-chat_pretrain`); here it is a stage. QLoRA needs a CUDA GPU (bitsandbytes).
"""
from __future__ import annotations

from swiftpipe import Launch, checkpoint, infer, make_recipe, merge, merged, pretrain, sft

# xtuner's MKL settings, from the tutorial's convert and chat commands
MKL = Launch(env={"MKL_SERVICE_FORCE_INTEL": "1", "MKL_THREADING_LAYER": "GNU"})
SYSTEM = ("你是悟了悟了，由xzyun2011开发的AI助手，专注于回答和《黑神话：悟空》这款游戏相关的问题，"
          "你想帮助玩家了解更多这款游戏背后的故事和文化知识。\n")


def recipe(
    model: str = "/root/models/internlm2_5-1_8b-chat",
    data_dir: str = "/root/wulewule/data",
    accumulative_counts: int = 1,
):
    # The tutorial, on accumulative_counts: "单卡训练切记改成1，不然模型学不会东西" -- on one GPU set it to 1,
    # or the model learns nothing. Raise it only with more GPUs.
    stages = [
        pretrain("pretrain", {
            "model": model,
            **_qlora(accumulative_counts),
            "dataset": [f"{data_dir}/heishenghua_pretraining.jsonl"],
            "output_dir": "./pretrain",
            "deepspeed": "zero1",
        }),
        merge("merge_pretrain", {"adapters": checkpoint("pretrain"),
                                 "output_dir": "pretrain/merged_internlm2_5-1_8b-chat_pretrain"}, launch=MKL),
        sft("sft", {
            "model": merged("merge_pretrain"),
            **_qlora(accumulative_counts),
            "dataset": [f"{data_dir}/self_cognition_100.jsonl", f"{data_dir}/huixiangdou_conversations.jsonl"],
            "template": "internlm2",
            "system": SYSTEM,
            "output_dir": "./finetune",
            "deepspeed": "zero1",
        }),
        merge("merge", {
            "adapters": checkpoint("sft"),
            "output_dir": "/root/wulewule/models/wulewule_v1_1_8b",
            "max_shard_size": "2GB",
        }, launch=MKL),
        infer("chat", {"model": merged("merge"), "template": "internlm2", "system": "your system"}, launch=MKL),
    ]
    return make_recipe("wukong_qlora", stages, description=__doc__.splitlines()[0])


def _qlora(accumulative_counts: int) -> dict:
    """The settings both xtuner configs share: 4-bit NF4 QLoRA, r 64 / alpha 128, and the training loop."""
    return {
        "train_type": "lora",
        "torch_dtype": "float16",
        "quant_method": "bnb",
        "quant_bits": 4,
        "bnb_4bit_quant_type": "nf4",
        "bnb_4bit_use_double_quant": True,
        "bnb_4bit_compute_dtype": "float16",
        "lora_rank": 64,
        "lora_alpha": 128,
        "lora_dropout": 0.1,
        "max_length": 2048,
        "per_device_train_batch_size": 1,
        "gradient_accumulation_steps": accumulative_counts,
        "dataloader_num_workers": 0,
        "num_train_epochs": 3,
        "learning_rate": 2e-5,
        "weight_decay": 0,
        "max_grad_norm": 1,
        "warmup_ratio": 0.03,
        "save_steps": 500,
        "save_total_limit": 2,
    }
