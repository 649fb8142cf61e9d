"""A tiny llama-architecture GGUF model with random weights, for tests.

The model is built with the `gguf` package (no downloads) and loads in llama.cpp
in well under a second. It is a real transformer (2 blocks, GQA attention, SwiGLU
FFN, RoPE, F32) whose weights are random but arranged so that it behaves like a
well-mannered chat model:

* The vocabulary is SentencePiece-style (tokenizer model "llama"): `<unk>`, `<s>`
  (BOS), `</s>` (EOS), the 256 byte-fallback tokens `<0x00>`..`<0xFF>`, the ChatML
  control tokens `<|im_start|>` / `<|im_end|>`, printable ASCII characters, and a
  few thousand word pieces (common English and programming words in four
  spellings: `▁word`, `▁Word`, `word`, `Word`, each with all its prefixes so the
  SPM merges can reach it). English prompts take about 3 characters per token.
* It writes short lowercase sentences from `GEN_WORDS` and stops by itself: the
  output head is nearly a bigram table. Each generation word strongly predicts
  the next word of a fixed, seeded word chain; every chain ends on a word that
  predicts ".", and "." predicts `</s>`. So a reply is about 1-14 words plus "."
  with `finish_reason: "stop"`, identical for identical prompts at temperature 0,
  even when a client asks for `max_tokens: 32000`.
* `tokenizer.chat_template` is ChatML; llama-cpp-python's server uses it for chat
  requests. It renders text content (string or a list of text parts) and ignores
  tools, so long agent prompts stay cheap.

Residual dimensions 0-2 are designed features (constant bias, "ends a sentence",
"is the period"); the blocks never write to them. Building is deterministic:
the same seed gives byte-identical files.
"""

from __future__ import annotations

from pathlib import Path

import gguf
import numpy as np
import numpy.typing as npt

__all__ = ["CHAT_TEMPLATE", "GEN_WORDS", "build_tiny_gguf"]

N_EMBD = 64
N_HEAD = 4
N_HEAD_KV = 2
N_FF = 128
N_LAYER = 2
CONTEXT_LENGTH = 65536
SPM_SPACE = "\u2581"
SUCCESSOR_GAIN = 10.0
SENTENCE_LENGTHS = (4, 14)  # chain segment lengths, inclusive low, exclusive high
BIAS, ENDS_SENTENCE, IS_PERIOD, FREE = 0, 1, 2, 3  # residual dimensions

_GEN_TEXT = (
    "the a an and or but if then else of to in on at for with from by as is are was were be been it this that these those "
    "model gateway request response stream token tool call result message user assistant system local server client "
    "hello world test data file code run output input error value true false yes no ok done here there what when where "
    "why how can will would should could may might must not only also just more most some any all each every other new "
    "old good fast slow small large first last next time day way thing part place work word line text name number"
)
GEN_WORDS: tuple[str, ...] = tuple(_GEN_TEXT.split())

_EXTRA_TEXT = (
    "about above after again against always am among another anything around ask asked back because before being below "
    "best better between both bring build built change changes check clear come command commands content context could "
    "create current default describe description did different directory do does doing down during edit either end enough "
    "even example exactly except explain few find follow following for found full function functions get give given go "
    "going has have having help her him his however i if important include including instead into its itself keep know "
    "later least less let like list look made make makes making many me mean means much my need needed needs never no "
    "nothing now often once one open our out over own path paths per possible prefer present project provide provided "
    "read really reason related remember request required rather same say see seem set shall she show since so something "
    "specific still such sure take task tasks tell than their them they think through too two under until up update upon "
    "us use used useful uses using very want we well what whether which while who whole why within without write writes "
    "writing written yet you your yourself able access action actions add added agent answer api append approach args "
    "argument arguments array async await bash block body boolean branch browser buffer bug cache case character characters "
    "class clean cli commit config configuration console const copy correct debug delete dependencies dependency deploy "
    "diff directories document documentation environment errors event events exit export fail failed failing feature "
    "features field fields files filter fix folder format git github grep handle handler header headers http https id "
    "image import index information install instructions integer interface issue issues item items json key keys language "
    "length library limit lines link lint local log logs loop main markdown match max memory method methods min missing "
    "mode module modules node null object objects option optional options order package page parameter parameters parse "
    "permission permissions pip plan plugin port print process program prompt property pull push python query queue "
    "range readme reference regex remote remove repository requests resource return returns root rule rules schema "
    "script search security session shell skill source space start state status step steps store string strings style "
    "subagent success summary support tag target template terminal tests timeout todo tools type types undefined unit "
    "url usage user users utf valid validate variable variables version view wait warning web window working workflow "
    "yaml zero"
)
VOCAB_WORDS: tuple[str, ...] = tuple(dict.fromkeys(GEN_WORDS + tuple(_EXTRA_TEXT.split())))
EXTRA_PIECES = ('":', '":"', '","', '",', '{"', '"}', '"]', '["', "},", "],", "{}", "[]", "()", "**", "##", "###", "->", "=>", "//", "/*")

CHAT_TEMPLATE = (
    "{%- for message in messages -%}"
    "{{- '<|im_start|>' + message['role'] + '\\n' -}}"
    "{%- if message['content'] is string -%}{{- message['content'] -}}"
    "{%- elif message['content'] -%}"
    "{%- for part in message['content'] -%}{%- if part['type'] == 'text' -%}{{- part['text'] -}}{%- endif -%}{%- endfor -%}"
    "{%- endif -%}"
    "{{- '<|im_end|>\\n' -}}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}{{- '<|im_start|>assistant\\n' -}}{%- endif -%}"
)

_FloatArray = npt.NDArray[np.float32]


class _Vocab:
    def __init__(self) -> None:
        self.tokens: list[str] = []
        self.scores: list[float] = []
        self.types: list[int] = []
        self.ids: dict[str, int] = {}

    def add(self, text: str, score: float, token_type: gguf.TokenType) -> int:
        if text not in self.ids:
            self.ids[text] = len(self.tokens)
            self.tokens.append(text)
            self.scores.append(score)
            self.types.append(int(token_type))
        return self.ids[text]

    def add_with_prefixes(self, piece: str) -> None:
        """Add `piece` and its prefixes; SPM merges by score, so longer pieces score higher."""
        for end in range(2, len(piece) + 1):
            self.add(piece[:end], float(end) - 100.0, gguf.TokenType.NORMAL)


def _build_vocab() -> _Vocab:
    vocab = _Vocab()
    vocab.add("<unk>", 0.0, gguf.TokenType.UNKNOWN)
    vocab.add("<s>", 0.0, gguf.TokenType.CONTROL)
    vocab.add("</s>", 0.0, gguf.TokenType.CONTROL)
    for byte in range(256):
        vocab.add(f"<0x{byte:02X}>", 0.0, gguf.TokenType.BYTE)
    vocab.add("<|im_start|>", 0.0, gguf.TokenType.CONTROL)
    vocab.add("<|im_end|>", 0.0, gguf.TokenType.CONTROL)
    vocab.add(SPM_SPACE, -1000.0, gguf.TokenType.NORMAL)
    for code in range(33, 127):
        vocab.add(chr(code), -1000.0, gguf.TokenType.NORMAL)
    for run in range(2, 9):
        vocab.add(SPM_SPACE * run, float(run) - 100.0, gguf.TokenType.NORMAL)
    for word in VOCAB_WORDS:
        for spelling in (word, word.capitalize()):
            vocab.add_with_prefixes(SPM_SPACE + spelling)
            vocab.add_with_prefixes(spelling)
    for piece in EXTRA_PIECES:
        vocab.add_with_prefixes(piece)
    return vocab


def _sentences(rng: np.random.Generator) -> tuple[dict[str, str], set[str]]:
    """A seeded chain through GEN_WORDS cut into sentences: successor of each word, and the sentence-final words."""
    order = [GEN_WORDS[i] for i in rng.permutation(len(GEN_WORDS))]
    successor: dict[str, str] = {}
    enders: set[str] = set()
    start = 0
    while start < len(order):
        stop = min(len(order), start + int(rng.integers(*SENTENCE_LENGTHS)))
        for i in range(start, stop - 1):
            successor[order[i]] = order[i + 1]
        enders.add(order[stop - 1])
        start = stop
    return successor, enders


def _embeddings(vocab: _Vocab, enders: set[str], rng: np.random.Generator) -> _FloatArray:
    embd = rng.normal(0.0, 1.0, size=(len(vocab.tokens), N_EMBD)).astype(np.float32)
    embd[:, BIAS] = 4.0
    embd[:, ENDS_SENTENCE] = 0.0
    embd[:, IS_PERIOD] = 0.0
    for word in enders:
        embd[vocab.ids[SPM_SPACE + word], ENDS_SENTENCE] = 4.0
    embd[vocab.ids["."], IS_PERIOD] = 4.0
    return embd


def _output_head(vocab: _Vocab, embd: _FloatArray, successor: dict[str, str], rng: np.random.Generator) -> _FloatArray:
    """Logits ≈ bias (words up, everything else down) + word → next word + sentence end → "." → `</s>`."""
    head = rng.normal(0.0, 0.05, size=(len(vocab.tokens), N_EMBD)).astype(np.float32)
    head[:, BIAS] = -2.5
    head[:, ENDS_SENTENCE] = 0.0
    head[:, IS_PERIOD] = 0.0
    for word in GEN_WORDS:
        row = vocab.ids[SPM_SPACE + word]
        head[row, BIAS] = 2.0
        head[row, ENDS_SENTENCE] = -3.0
        head[row, IS_PERIOD] = -3.0
    for word, following in successor.items():
        key = embd[vocab.ids[SPM_SPACE + word], FREE:]
        head[vocab.ids[SPM_SPACE + following], FREE:] += SUCCESSOR_GAIN * key / float(key @ key)
    head[vocab.ids["."], ENDS_SENTENCE] = 5.0
    head[vocab.ids["</s>"], BIAS] = 0.0
    head[vocab.ids["</s>"], IS_PERIOD] = 6.0
    return head


def _block_tensors(layer: int, rng: np.random.Generator) -> dict[str, _FloatArray]:
    """One transformer block; the projections that write the residual leave the designed dimensions alone."""
    head_dim = N_EMBD // N_HEAD

    def weight(rows: int, cols: int) -> _FloatArray:
        return rng.normal(0.0, 0.05, size=(rows, cols)).astype(np.float32)

    attn_out = weight(N_EMBD, N_EMBD)
    ffn_down = weight(N_EMBD, N_FF)
    attn_out[:FREE, :] = 0.0
    ffn_down[:FREE, :] = 0.0
    prefix = f"blk.{layer}."
    return {
        prefix + "attn_norm.weight": np.ones(N_EMBD, dtype=np.float32),
        prefix + "attn_q.weight": weight(N_EMBD, N_EMBD),
        prefix + "attn_k.weight": weight(N_HEAD_KV * head_dim, N_EMBD),
        prefix + "attn_v.weight": weight(N_HEAD_KV * head_dim, N_EMBD),
        prefix + "attn_output.weight": attn_out,
        prefix + "ffn_norm.weight": np.ones(N_EMBD, dtype=np.float32),
        prefix + "ffn_gate.weight": weight(N_FF, N_EMBD),
        prefix + "ffn_up.weight": weight(N_FF, N_EMBD),
        prefix + "ffn_down.weight": ffn_down,
    }


def _write_metadata(writer: gguf.GGUFWriter, vocab: _Vocab) -> None:
    writer.add_name("babelgate-tiny-llama")
    writer.add_context_length(CONTEXT_LENGTH)
    writer.add_embedding_length(N_EMBD)
    writer.add_block_count(N_LAYER)
    writer.add_feed_forward_length(N_FF)
    writer.add_head_count(N_HEAD)
    writer.add_head_count_kv(N_HEAD_KV)
    writer.add_rope_dimension_count(N_EMBD // N_HEAD)
    writer.add_layer_norm_rms_eps(1e-5)
    writer.add_vocab_size(len(vocab.tokens))
    writer.add_file_type(gguf.LlamaFileType.ALL_F32)
    writer.add_tokenizer_model("llama")
    writer.add_token_list(vocab.tokens)
    writer.add_token_scores(vocab.scores)
    writer.add_token_types(vocab.types)
    writer.add_unk_token_id(vocab.ids["<unk>"])
    writer.add_bos_token_id(vocab.ids["<s>"])
    writer.add_eos_token_id(vocab.ids["</s>"])
    writer.add_add_bos_token(True)
    writer.add_add_eos_token(False)
    writer.add_add_space_prefix(True)
    writer.add_chat_template(CHAT_TEMPLATE)


def build_tiny_gguf(path: Path, *, seed: int = 1234) -> Path:
    """Write the tiny model to `path` (parent directories are created) and return `path`."""
    rng = np.random.default_rng(seed)
    vocab = _build_vocab()
    successor, enders = _sentences(rng)
    embd = _embeddings(vocab, enders, rng)
    tensors: dict[str, _FloatArray] = {"token_embd.weight": embd}
    for layer in range(N_LAYER):
        tensors.update(_block_tensors(layer, rng))
    tensors["output_norm.weight"] = np.ones(N_EMBD, dtype=np.float32)
    tensors["output.weight"] = _output_head(vocab, embd, successor, rng)

    path.parent.mkdir(parents=True, exist_ok=True)
    writer = gguf.GGUFWriter(path, "llama")
    _write_metadata(writer, vocab)
    for name, array in tensors.items():
        writer.add_tensor(name, array)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path
