"""Tokenizers trained here with Hugging Face ``tokenizers``, wrapped so ``transformers`` uses them as usual."""

from __future__ import annotations

from collections.abc import Iterable

PAD, UNK, BOS, EOS = "[PAD]", "[UNK]", "[BOS]", "[EOS]"

def wordpiece_bilingual(texts: Iterable[str], vocab_size: int = 2000, *, lowercase: bool = True):
    """One WordPiece vocabulary for English words and Chinese characters (each character its own token).

    Ids 0–3 are [PAD], [UNK], [BOS], [EOS]; every encoded text ends with [EOS], as a seq2seq label must.
    ``lowercase=False`` keeps English capitals, for a model that writes English.
    """
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    tokenizer = Tokenizer(models.WordPiece(unk_token=UNK))
    tokenizer.normalizer = normalizers.BertNormalizer(handle_chinese_chars=True, lowercase=lowercase)
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tokenizer.decoder = decoders.WordPiece()
    trainer = trainers.WordPieceTrainer(vocab_size=vocab_size, special_tokens=[PAD, UNK, BOS, EOS])
    tokenizer.train_from_iterator(texts, trainer)
    tokenizer.post_processor = processors.TemplateProcessing(
        single=f"$A {EOS}", special_tokens=[(EOS, tokenizer.token_to_id(EOS))]
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer, pad_token=PAD, unk_token=UNK, bos_token=BOS, eos_token=EOS,
        model_input_names=["input_ids", "attention_mask"],
    )  # fmt: skip


def byte_level_bpe(texts: Iterable[str], vocab_size: int = 4000):
    """A GPT-2-style byte-level BPE: any text encodes (no unknown token); "<|endoftext|>" separates documents."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    end = "<|endoftext|>"
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size, special_tokens=[end], initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
    )
    tokenizer.train_from_iterator(texts, trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer, bos_token=end, eos_token=end, unk_token=end, pad_token=end,
        model_input_names=["input_ids", "attention_mask"],
    )  # fmt: skip


def chinese_characters(texts: Iterable[str], min_frequency: int = 2):
    """One token per character, for a character-level GPT: NFKC first, white space dropped (People's Daily has
    none), characters seen fewer than ``min_frequency`` times become [UNK]; "[EOS]" separates documents and
    decoding joins the characters back with nothing between them."""
    from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tokenizer = Tokenizer(models.WordLevel(unk_token=UNK))
    tokenizer.normalizer = normalizers.Sequence([normalizers.NFKC(), normalizers.Replace(Regex(r"\s+"), "")])
    tokenizer.pre_tokenizer = pre_tokenizers.Split(Regex("."), behavior="isolated")
    tokenizer.decoder = decoders.Fuse()
    trainer = trainers.WordLevelTrainer(min_frequency=min_frequency, special_tokens=[EOS, UNK])
    tokenizer.train_from_iterator(texts, trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer, bos_token=EOS, eos_token=EOS, unk_token=UNK, pad_token=EOS,
        clean_up_tokenization_spaces=False, model_input_names=["input_ids", "attention_mask"],
    )  # fmt: skip


CLS, SEP, MASK = "[CLS]", "[SEP]", "[MASK]"


def chinese_wordpiece(texts: Iterable[str], vocab_size: int = 6000, min_frequency: int = 3):
    """A BERT-style vocabulary for Chinese built here: every Chinese character its own token, other scripts in
    WordPiece pieces. NFKC first (full-width and half-width forms agree); [CLS] … [SEP] around every text."""
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers

    tokenizer = Tokenizer(models.WordPiece(unk_token=UNK))
    tokenizer.normalizer = normalizers.Sequence(
        [normalizers.NFKC(), normalizers.BertNormalizer(handle_chinese_chars=True, lowercase=True)]
    )
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tokenizer.decoder = decoders.WordPiece()
    trainer = trainers.WordPieceTrainer(vocab_size=vocab_size, min_frequency=min_frequency,
                                        special_tokens=[PAD, UNK, CLS, SEP, MASK])  # fmt: skip
    tokenizer.train_from_iterator(texts, trainer)
    return _as_bert(tokenizer)


def chinese_pieces(texts: Iterable[str], vocab_size: int = 8000, min_frequency: int = 3):
    """A vocabulary of Chinese pieces of up to three characters (这本书, 很好, 失望), learnt by byte-pair encoding
    (BPE) merges: every character first, then the most frequent neighbours merged until ``vocab_size`` (the
    library's ``max_token_length=4`` admits a merge only below 4 characters). Text is first cut at white space,
    punctuation and symbols (and between letters, digits and Chinese), so a piece never crosses a comma. NFKC and
    lower case first (no accent stripping, unlike ``chinese_wordpiece``); [CLS] … [SEP] around every text."""
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, trainers

    tokenizer = Tokenizer(models.BPE(unk_token=UNK))
    tokenizer.normalizer = normalizers.Sequence([normalizers.NFKC(), normalizers.Lowercase()])
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.Whitespace(), pre_tokenizers.Punctuation()])
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, min_frequency=min_frequency, max_token_length=4,
                                  special_tokens=[PAD, UNK, CLS, SEP, MASK])  # fmt: skip
    tokenizer.train_from_iterator(texts, trainer)
    return _as_bert(tokenizer)


def _as_bert(tokenizer):
    """A trained vocabulary as BERT reads it: [CLS] … [SEP] around every text, BERT's special tokens and inputs."""
    from tokenizers import processors
    from transformers import PreTrainedTokenizerFast

    cls, sep = tokenizer.token_to_id(CLS), tokenizer.token_to_id(SEP)
    tokenizer.post_processor = processors.TemplateProcessing(
        single=f"{CLS} $A {SEP}", pair=f"{CLS} $A {SEP} $B:1 {SEP}:1", special_tokens=[(CLS, cls), (SEP, sep)]
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer, pad_token=PAD, unk_token=UNK, cls_token=CLS, sep_token=SEP, mask_token=MASK,
        model_input_names=["input_ids", "token_type_ids", "attention_mask"],
    )  # fmt: skip
