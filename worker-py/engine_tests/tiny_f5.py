"""A tiny F5-TTS in the real architecture with random weights, built without the hub: a small DiT
config in F5's own YAML format (read by the engine as a custom config, as a community fine-tune
would be), a random EMA checkpoint as safetensors, and a random Vocos vocoder folder
(config.yaml + pytorch_model.bin, what F5's load_vocoder reads locally). The audio is noise, but
every line of the real path runs."""
from pathlib import Path

import yaml

ARCH = {"dim": 32, "depth": 2, "heads": 2, "dim_head": 16, "ff_mult": 2, "text_dim": 16, "text_mask_padding": True,
        "qk_norm": None, "conv_layers": 1, "pe_attn_head": None, "attn_backend": "torch", "attn_mask_enabled": False,
        "checkpoint_activations": False}
MEL = {"target_sample_rate": 24000, "n_mel_channels": 100, "hop_length": 256, "win_length": 1024, "n_fft": 1024,
       "mel_spec_type": "vocos"}
VOCOS = {
    "feature_extractor": {"class_path": "vocos.feature_extractors.MelSpectrogramFeatures",
                          "init_args": {"sample_rate": 24000, "n_fft": 1024, "hop_length": 256, "n_mels": 100, "padding": "center"}},
    "backbone": {"class_path": "vocos.models.VocosBackbone",
                 "init_args": {"input_channels": 100, "dim": 32, "intermediate_dim": 64, "num_layers": 1}},
    "head": {"class_path": "vocos.heads.ISTFTHead", "init_args": {"dim": 32, "n_fft": 1024, "hop_length": 256, "padding": "same"}},
}


def build_tiny_f5(folder: Path) -> dict:
    """Write the model's files into ``folder``; answer the VOICECUE_F5_* settings that load them."""
    import torch
    from importlib.resources import files
    from safetensors.torch import save_file
    from vocos import Vocos

    from f5_tts.infer.utils_infer import load_model  # noqa: F401  (the same import path the engine uses)
    from f5_tts.model import CFM, DiT
    from f5_tts.model.utils import get_tokenizer

    folder.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    config = folder / "F5TTS_Tiny.yaml"
    config.write_text(yaml.safe_dump({"model": {"name": "F5TTS_Tiny", "tokenizer": "custom", "backbone": "DiT",
                                                "arch": ARCH, "mel_spec": MEL, "vocoder": {"is_local": True, "local_path": None}}}))
    vocab = str(files("f5_tts").joinpath("infer/examples/vocab.txt"))
    char_map, vocab_size = get_tokenizer(vocab, "custom")
    cfm = CFM(transformer=DiT(**ARCH, text_num_embeds=vocab_size, mel_dim=100),
              mel_spec_kwargs={k: MEL[k] for k in ("n_fft", "hop_length", "win_length", "n_mel_channels", "target_sample_rate", "mel_spec_type")},
              odeint_kwargs={"method": "euler"}, vocab_char_map=char_map)
    ckpt = folder / "model_tiny.safetensors"
    save_file({k: v.contiguous() for k, v in cfm.state_dict().items()}, str(ckpt))

    vocoder = folder / "vocos"
    vocoder.mkdir(exist_ok=True)
    (vocoder / "config.yaml").write_text(yaml.safe_dump(VOCOS))
    torch.save(Vocos.from_hparams(str(vocoder / "config.yaml")).state_dict(), vocoder / "pytorch_model.bin")
    return {"VOICECUE_F5_MODEL": str(config), "VOICECUE_F5_CKPT": str(ckpt), "VOICECUE_F5_VOCAB": vocab,
            "VOICECUE_F5_VOCODER": str(vocoder), "VOICECUE_F5_DEVICE": "cpu"}


if __name__ == "__main__":  # python tiny_f5.py FOLDER: builds the model there, prints its VOICECUE_F5_* settings as JSON
    import json
    import sys

    print(json.dumps(build_tiny_f5(Path(sys.argv[1]))))
