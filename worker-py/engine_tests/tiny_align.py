"""Builders for the WhisperX tests, with no download: a tiny randomly initialised wav2vec2 CTC model
saved as a local folder (what VOICECUE_ALIGN_MODELS can name), and a minimal NLTK punkt_tab model in
the folder layout nltk reads. `python tiny_align.py model DIR` / `python tiny_align.py punkt DIR`
build them for the HTTP tests too.

As in WhisperX's own tests: a hand-made model with a character dictionary ("|" for the space, the
blank at <pad>). Its weights are random, so the times it gives are arbitrary but real: every line of
load_align_model and align runs."""
import json
import os
import sys

LETTERS = "abcdefghijklmnopqrstuvwxyz'"


def build_align_model(folder: str, seed: int = 0) -> str:
    import torch
    from transformers import (Wav2Vec2Config, Wav2Vec2CTCTokenizer, Wav2Vec2FeatureExtractor, Wav2Vec2ForCTC,
                              Wav2Vec2Processor)

    os.makedirs(folder, exist_ok=True)
    vocab = {"<pad>": 0, "<s>": 1, "</s>": 2, "<unk>": 3, "|": 4}
    for ch in LETTERS:
        vocab[ch] = len(vocab)
    vocab_file = os.path.join(folder, "vocab.json")
    with open(vocab_file, "w", encoding="utf-8") as f:
        json.dump(vocab, f)
    tokenizer = Wav2Vec2CTCTokenizer(vocab_file, unk_token="<unk>", pad_token="<pad>", word_delimiter_token="|")
    features = Wav2Vec2FeatureExtractor(feature_size=1, sampling_rate=16000, padding_value=0.0, do_normalize=True,
                                        return_attention_mask=False)
    Wav2Vec2Processor(feature_extractor=features, tokenizer=tokenizer).save_pretrained(folder)
    torch.manual_seed(seed)
    config = Wav2Vec2Config(
        vocab_size=len(vocab), hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
        conv_dim=(32,) * 7, num_conv_pos_embeddings=16, num_conv_pos_embedding_groups=2, pad_token_id=0,
    )
    Wav2Vec2ForCTC(config).save_pretrained(folder)
    return folder


def build_punkt(nltk_data: str, languages=("english",)) -> str:
    """tokenizers/punkt_tab/<language>/ with the four files nltk's PunktTokenizer reads (a few
    abbreviations; the real trained model comes from the operator's fetch script)."""
    for lang in languages:
        folder = os.path.join(nltk_data, "tokenizers", "punkt_tab", lang)
        os.makedirs(folder, exist_ok=True)
        files = {"abbrev_types.txt": "dr\nmr\nmrs\ne.g\ni.e\n", "collocations.tab": "", "sent_starters.txt": "",
                 "ortho_context.tab": ""}
        for name, body in files.items():
            with open(os.path.join(folder, name), "w", encoding="utf-8") as f:
                f.write(body)
    return nltk_data


if __name__ == "__main__":
    what, folder = sys.argv[1], sys.argv[2]
    print(build_align_model(folder) if what == "model" else build_punkt(folder))
