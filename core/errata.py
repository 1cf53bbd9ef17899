"""Errata: what the article LM Lab is built from gets wrong, where a page shows the correct version live.

Each erratum quotes the article's words as printed (Chinese), says what is wrong and what is right, and names what
on its page demonstrates it. The positional-encoding formula has its own, computed, correction on that page.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.messages import N_


@dataclass(frozen=True)
class Erratum:
    title: str
    quote: str  # the article's words, as printed
    wrong: str
    right: str
    shown: str  # what on the page shows the correct version


ERRATA = {
    "polarization": Erratum(
        N_("There is no “polarization” step"),
        "4. **极化**：将输出序列进行极化处理，以生成最终的文本。",
        N_("No Transformer has a step called polarization (极化), and the article does not say what it would do."),
        N_("After the last block, each position's vector is multiplied by the output matrix (often the token "
           "embedding matrix itself) to give one score per vocabulary entry; a softmax turns the scores into "
           "next-token probabilities; a decoding rule — greedy, beam search, or sampling with temperature, top-k and "
           "top-p — picks the token, which is appended and fed back in."),
        N_("On Apply → Generate, the Next token tab's bars are the top k of that softmax over the whole vocabulary, "
           "and its temperature, top-k and top-p are the decoding rule the Generate tab samples with."),
    ),
    "decoder": Erratum(
        N_("What makes a decoder a decoder"),
        "解码器采用自注意力机制和位置编码（Positional Encoding）来生成输出序列。",
        N_("The article says the decoder turns the encoder's output into text, but never says how (cross-attention), "
           "and it leaves out the causal mask; and positional encoding is not the decoder's own: it is added to the "
           "encoder's input too."),
        N_("A decoder's self-attention is causal — position i may attend only to positions up to i, so that it "
           "cannot read the tokens it is about to predict — and in an encoder–decoder model every decoder block "
           "also has cross-attention, with queries from the decoder and keys and values from the encoder's output. "
           "Positions are encoded in the inputs of both stacks."),
        N_("The masks on this page: the decoder's is a lower triangle, the cross-attention one lets every target "
           "position see every source token that is not padding; the shapes table shows where each comes in."),
    ),
    "bert-generates": Erratum(
        N_("BERT and RoBERTa do not generate text"),
        "近年来，随着大规模预训练语言模型（例如BERT、GPT、RoBERTa等）的出现，NLP技术取得了重大进展。这些模型通过大量的数据和"
        "计算资源训练，能够生成人类般的自然语言文本",
        N_("Of the three models the article names, only GPT writes text."),
        N_("BERT and RoBERTa are encoders, pretrained to fill in masked tokens (masked-language modelling): they "
           "read the whole text in both directions at once and give one vector per token, which a classifier or a "
           "tagger is then fine-tuned on. GPT is a decoder, pretrained to predict the next token, and only a decoder "
           "generates text left to right."),
        N_("The Transformer models on this page are GPTs (decoders, causal masks). BERT-style encoders in LM Lab classify "
           "(Sentiment, Topic) and tag (Semantic roles, Word segmentation); Inspect → Attention shows that their "
           "attention looks both ways. Below, the Chinese BERT pretrained here is made to write beside the Chinese "
           "GPT."),
    ),
    "srl": Erratum(
        N_("Semantic roles are not subject and object"),
        "4. **语义角色标注**：可以识别文本中的语义角色，如主语、宾语、谓词等。",
        N_("Subject and object (主语、宾语) are grammatical functions, and the predicate (谓词) is what roles belong "
           "to, not a role."),
        N_("Semantic role labeling finds, for each predicate, who did it (ARG0, the agent), what it was done to "
           "(ARG1, the patient or theme), to whom (ARG2 for verbs like give or send), and when, where, how and why "
           "(ARGM-…). The roles stay when the grammar changes: in “A letter was sent to my sister by John” the "
           "subject “A letter” is ARG1, the thing sent, and the by-phrase “by John” is ARG0."),
        N_("Pick that example above (the passive one) and see which role the model gives the subject."),
    ),
    "pretraining": Erratum(
        N_("Pretraining and fine-tuning are two different trainings"),
        "3. **模型训练**：使用大量预训练数据训练模型，优化模型的参数。",
        N_("The article's steps train “with a large amount of pretraining data” and then evaluate on a test set, "
           "mixing two stages; its code sample only does the second."),
        N_("Pretraining learns from unlabelled text with a self-supervised objective (the next token for GPT, masked "
           "tokens for BERT) and costs most of the compute. Fine-tuning starts from those weights and trains on a "
           "small labelled dataset for one task — which is what this page, like the article's code, does."),
        N_("Step 2 lets you start from the pretrained MiniLM or from random weights: train both on the same data "
           "and compare them under Compare runs (the random BERT is also smaller than MiniLM, so size differs too; "
           "the Chinese BERT pretrained here and its from-scratch twin share one architecture)."),
    ),
}
