"""A deterministic, MovieLens-shaped dataset with planted structure (``make_synthetic``).

It is what unit tests and ``make book`` run on when no real data exists. Every random draw
comes from ``numpy.random.default_rng(seed)``, split into one independent stream per stage
(catalogue, preferences, users, sequences, rating noise), so the same seed gives identical
tables and identical poster bytes.

How the data is generated (all of it is recoverable, and stored in
``extras["planted"]``):

1. Genres and their Markov chain. A planted genre-to-genre transition matrix ``T``
   (``genre_transitions``) sends each genre to one "next genre" with probability
   ``transition_strength`` (the successors form one cycle through all 18 genres) and
   spreads the rest by a Dirichlet draw that favours MovieLens's common genres. Each item
   gets a primary genre, drawn so that the catalogue matches the chain's stationary
   distribution (one item per genre plus a proportional share of the rest), and 0-2
   further genres.
2. Item content. Each item has three content scores ``c = (tone, scale, energy)``
   (``item_content``, standard normal, independent of genre).
3. Item factors. ``q_i = sqrt(genre_share) * G_i + sqrt(content_share) * C_i
   + sqrt(1 - genre_share - content_share) * R_i`` (parts in ``item_factor_parts``), where
   ``G_i`` is the genre-weighted mean of per-genre vectors (primary genre weight 2, others 1),
   ``C_i`` a fixed linear map of ``c_i``, and ``R_i`` item-specific noise; each part is
   standardised per factor over items, so the shares are shares of variance. Side
   information therefore predicts the genre and content parts, not the residual.
4. Posters (64x96 PNG) encode genre and content: the background hue is the primary
   genre's hue (genre ``g`` of the vocabulary has hue ``g/18``, jittered by ~4 degrees),
   its brightness rises with tone, its saturation with energy; a pale disc of the same hue
   has a radius growing with scale; each further genre adds a 10-pixel band in its own
   hue at the bottom.
5. Descriptions (``plot``) encode genre and content: three template sentences whose noun
   slots hold genre-specific words (genre drawn by the same weights as ``G_i``; a quarter
   of them generic words) and whose adjective slots hold words of the content poles
   (e.g. "bright" for positive tone, "grim" for negative), each pole drawn with weight
   ``|c_d|``, or a neutral adjective with weight 0.6. Each person belongs to one genre;
   a cast or director slot takes a person of one of the item's genres (70 %) or of any
   genre (30 %). Runtime depends on genre.
6. Ratings. ``rating = clip(floor(score + noise + 0.5), 1, 5)`` with
   ``score = global_mean + b_u + b_i + p_u . q_i`` (``score`` and the Bayes-optimal
   ``expected_rating`` are stored per interaction, aligned with the interaction rows);
   ``noise ~ N(0, noise_std^2)``. Item bias grows with popularity, user bias with age.
7. Sequences. User ``u`` starts in a genre drawn from the stationary distribution, then at
   each step draws the next genre from ``T`` given the primary genre of the last item, and
   an unseen item of that primary genre with probability proportional to
   ``popularity_i * exp(preference_strength * (b_i + p_u . q_i))``, or, with probability
   ``exploration``, uniformly (so every item is seen a few times); any unseen item when the
   genre is exhausted. Timestamps increase along the sequence. Because users pick items
   they like, observed ratings average above ``global_mean`` (about 3.5), as in MovieLens.

Users (age, gender, occupation) follow MovieLens-100K's marginals; only age carries signal.
"""

from __future__ import annotations

import colorsys
import os
import re
from collections.abc import Iterator
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd

from mmrec_lib.data.dataset import Dataset
from mmrec_lib.data.download import screen_posters
from mmrec_lib.paths import cache_dir

GENERATOR_VERSION = 1  # bump when the output changes, so cached posters are not reused
GENRES = (
    "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime", "Documentary",
    "Drama", "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery", "Romance", "Sci-Fi",
    "Thriller", "War", "Western",
)  # fmt: skip
# MovieLens-100K genre counts, used (square-rooted) to make common genres common.
_GENRE_COUNTS = np.array(
    [251, 135, 42, 122, 505, 109, 50, 725, 22, 24, 92, 56, 61, 247, 101, 251, 71, 27]
)
CONTENT = ("tone", "scale", "energy")
POSTER_SIZE = (64, 96)  # width, height
_BAND_HEIGHT = 10

_OCCUPATIONS = {
    "student": 196, "other": 105, "educator": 95, "administrator": 79, "engineer": 67,
    "programmer": 66, "librarian": 51, "writer": 45, "executive": 32, "scientist": 31,
    "artist": 28, "technician": 27, "marketing": 26, "entertainment": 18, "healthcare": 16,
    "retired": 14, "lawyer": 12, "salesman": 12, "none": 9, "homemaker": 7, "doctor": 7,
}  # fmt: skip

_GENRE_NOUNS = tuple(
    words.split()
    for words in (
        "explosions gunfights chases mercenaries stunts showdowns bullets ambushes",
        "treasure expeditions jungles maps voyages explorers islands quests",
        "cartoons critters doodles sketches puppets toons crayons animators",
        "kids puppies playgrounds schoolyards lessons ponies birthdays babysitters",
        "jokes pranks misunderstandings blunders hijinks laughs gags mishaps",
        "detectives gangsters robberies informants mobsters smugglers alibis bribes",
        "interviews archives footage testimonies historians records researchers facts",
        "grief families illness regrets marriages inheritance confessions sacrifices",
        "dragons wizards spells kingdoms elves prophecies enchantments sorcerers",
        "dames cigarettes fedoras betrayals nightclubs gumshoes rain alleys",
        "ghosts screams curses monsters nightmares demons corpses blood",
        "songs dancers choruses melodies rehearsals stages ballads tunes",
        "clues riddles disappearances suspects puzzles codes inspectors keys",
        "love kisses weddings lovers heartbreak flirtations sweethearts proposals",
        "robots spaceships aliens lasers androids galaxies clones starships",
        "conspiracies hostages assassins spies bombs kidnappers deadlines traitors",
        "soldiers battles trenches generals tanks bombers regiments sieges",
        "cowboys outlaws sheriffs saloons horses ranches gunslingers frontier",
    )
)  # one row per genre, in GENRES order
_GENERIC_NOUNS = ("secrets", "friends", "memories", "promises", "strangers", "choices", "money")
_GENERIC_NOUN_SHARE = 0.25
# Adjective pools: (negative pole, positive pole) per content score, then the neutral pool.
_CONTENT_ADJECTIVES = (
    (("dark", "grim", "bleak", "somber", "gloomy", "bitter"),
     ("bright", "joyful", "hopeful", "sunny", "cheerful", "warm")),
    (("intimate", "quiet", "small", "modest", "personal", "tender"),
     ("epic", "sprawling", "vast", "grand", "sweeping", "monumental")),
    (("slow", "gentle", "patient", "meditative", "calm", "languid"),
     ("frantic", "explosive", "breakneck", "wild", "furious", "relentless")),
)  # fmt: skip
_NEUTRAL_ADJECTIVES = ("strange", "unexpected", "curious", "unusual", "remarkable", "peculiar")
_NEUTRAL_WEIGHT = 0.6
_WHO = (
    "a young woman", "an old sailor", "two brothers", "a retired teacher", "a lonely boy",
    "a stubborn farmer", "a famous singer", "a nervous clerk", "three friends", "a widowed father",
)  # fmt: skip
_WHERE = (
    "a small town", "the big city", "a distant island", "a crumbling castle", "the desert",
    "a snowy village", "an old hotel", "the harbor",
)  # fmt: skip
_TEMPLATES = (
    "{who} is drawn into a {adj}, {adj} world of {noun} and {noun}.",
    "Set in {where}, this {adj} story is full of {noun}, {noun} and {adj} {noun}.",
    "Between {noun} and {noun}, {who} finds something {adj}.",
    "A {adj}, {adj} tale of {noun} unfolds in {where}.",
    "Nobody in {where} is ready for {noun} this {adj}.",
    "{who} learns that {adj} {noun} can be {adj}.",
    "It is a {adj} film about {noun}, {noun} and {adj} {noun}.",
)
_SENTENCES = 3
_SLOT = re.compile(r"\{(\w+)\}")
# Words drawn per item: the most that any _SENTENCES templates can use.
_SLOTS_PER_ITEM = {
    slot: sum(sorted(t.count("{" + slot + "}") for t in _TEMPLATES)[-_SENTENCES:])
    for slot in ("adj", "noun")
}

_TITLE_ADJECTIVES = (
    "Crimson", "Silent", "Golden", "Broken", "Hidden", "Midnight", "Silver", "Lonely", "Burning",
    "Frozen", "Distant", "Scarlet", "Hollow", "Endless", "Howling", "Velvet", "Iron", "Last",
    "Forgotten", "Crooked", "Emerald", "Shattered", "Restless", "Sleeping", "Wandering", "Ashen",
    "Painted", "Northern", "Falling", "Electric", "Savage", "Paper", "Copper", "Invisible",
    "Twisted", "Blue", "Final", "Stolen", "Amber", "Seventh",
)  # fmt: skip
_TITLE_NOUNS = (
    "Harbor", "River", "Garden", "Mirror", "Station", "Empire", "Horizon", "Lantern", "Crown",
    "Voyage", "Orchard", "Compass", "Letter", "Bridge", "Tower", "Canyon", "Meadow", "Signal",
    "Window", "Highway", "Circus", "Lighthouse", "Forest", "Echo", "Summer", "Winter", "Ember",
    "Carnival", "Anthem", "Avenue", "Passage", "Engine", "Dune", "Feather", "Chamber",
    "Mountain", "Ocean", "Railroad", "Valley", "Citadel",
)  # fmt: skip
_FIRST_NAMES = (
    "Ada", "Bruno", "Clara", "Dmitri", "Elena", "Felix", "Greta", "Hugo", "Iris", "Jonas",
    "Kira", "Leon", "Mara", "Nico", "Olive", "Pablo", "Quinn", "Rosa", "Silas", "Tessa", "Umar",
    "Vera", "Wade", "Xenia", "Yusuf", "Zara", "Milo", "Nora", "Otto", "Lena",
)  # fmt: skip
_LAST_NAMES = (
    "Abbott", "Brennan", "Castillo", "Dawson", "Ellery", "Fontaine", "Garner", "Holloway",
    "Ibarra", "Jessup", "Kowalski", "Lindqvist", "Marlowe", "Nakamura", "Okafor", "Pritchard",
    "Quintero", "Rasmussen", "Sorensen", "Thorne", "Underwood", "Valdez", "Whitaker", "Yamada",
    "Zeller", "Brandt", "Calloway", "Delacroix", "Everett", "Farrow",
)  # fmt: skip
_ACTORS_PER_GENRE, _DIRECTORS_PER_GENRE = 12, 4
_PERSON_IN_GENRE_SHARE = 0.7
_CAST_SIZES = (3, 4, 5)

_GLOBAL_MEAN = 3.2
_USER_BIAS_STD, _ITEM_BIAS_STD = 0.35, 0.4
_USER_BIAS_PER_YEAR = 0.01  # older users rate slightly higher, as in MovieLens
_FIRST_TIMESTAMP, _LAST_START = 874_724_710, 978_307_200  # 1997-09-20 .. 2001-01-01
_MEAN_GAP_SECONDS = 2 * 86_400


@dataclass(frozen=True)
class SyntheticConfig:
    """Sizes and strengths of the planted structure (see the module docstring)."""

    n_users: int
    n_items: int
    n_factors: int = 8
    min_interactions: int = 20
    max_interactions: int = 80
    noise: float = 0.5
    factor_std: float = 0.8
    genre_share: float = 0.4
    content_share: float = 0.35
    transition_strength: float = 0.5
    preference_strength: float = 0.8
    popularity_spread: float = 0.5
    exploration: float = 0.2

    def __post_init__(self) -> None:
        for name, kind in ((f.name, f.type) for f in fields(self)):
            value = getattr(self, name)
            numeric = (int, np.integer) if kind == "int" else (int, float, np.integer, np.floating)
            if isinstance(value, bool) or not isinstance(value, numeric):
                raise ValueError(f"synthetic: {name} must be {kind}, got {value!r}")
            if kind == "int" and value < 1:
                raise ValueError(f"synthetic: {name} must be positive, got {value!r}")
        for name in ("noise", "factor_std", "preference_strength", "popularity_spread"):
            if not getattr(self, name) >= 0:
                raise ValueError(f"synthetic: {name} must be >= 0, got {getattr(self, name)!r}")
        for name in ("genre_share", "content_share", "transition_strength", "exploration"):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(
                    f"synthetic: {name} must lie in [0, 1], got {getattr(self, name)!r}"
                )
        if self.genre_share + self.content_share > 1:
            raise ValueError("synthetic: genre_share + content_share must not exceed 1")
        if self.n_items < len(GENRES):
            raise ValueError(f"synthetic: n_items must be at least {len(GENRES)} (one per genre)")
        if not self.min_interactions <= self.max_interactions <= self.n_items:
            raise ValueError(
                "synthetic: need min_interactions <= max_interactions <= n_items, got "
                f"{self.min_interactions}, {self.max_interactions}, {self.n_items}"
            )


SIZES = {
    "tiny": SyntheticConfig(n_users=60, n_items=80, n_factors=4, min_interactions=15,
                            max_interactions=40),
    "small": SyntheticConfig(n_users=600, n_items=400),
    "demo": SyntheticConfig(n_users=3000, n_items=1500, n_factors=16),
}  # fmt: skip


def make_synthetic(size: str = "small", seed: int = 0, **overrides: float) -> Dataset:
    """Generate the ``synthetic`` dataset; posters are cached as PNG files and reused.

    size: "tiny" (60 users, 80 items; unit tests), "small" (600 x 400) or "demo"
        (3,000 x 1,500; the demo book). overrides: any field of :class:`SyntheticConfig`,
        e.g. ``n_users=100, noise=0.3``.
    The posters (which have no published checksums) are checked to decode; one that does
    not (a damaged cache file) is left out with a warning and counted as unreadable in
    ``coverage`` (statuses in ``extras["poster_status"]``).
    """
    config = resolve_config(size, overrides)
    catalogue, preferences, people, sequences, noise = np.random.default_rng(seed).spawn(5)

    transitions = _genre_transitions(config.transition_strength, catalogue)
    stationary = np.linalg.matrix_power(transitions, 512)[0]
    items, genre_weights, content, hues = _make_items(config.n_items, stationary, catalogue)
    poster_folder = cache_dir("synthetic", _cache_key(size, seed, overrides))
    items["poster_path"] = _write_posters(
        _poster_specs(genre_weights, content, hues, catalogue), items.index, poster_folder
    )

    primary = genre_weights.argmax(axis=1)
    users = _make_users(config.n_users, people)
    factors = _make_factors(config, genre_weights, content, users["age"].to_numpy(), preferences)
    user_idx, item_idx = _make_sequences(
        config, transitions, stationary, primary, factors, sequences
    )
    interactions, score = _rate(config, factors, user_idx, item_idx, noise)

    planted = _planted_tables(factors, items.index, users.index, content, transitions)
    planted.update(
        global_mean=_GLOBAL_MEAN,
        noise_std=config.noise,
        score=score,
        expected_rating=expected_rating(score, config.noise),
        item_primary_genre=pd.Series(np.array(GENRES)[primary], index=items.index, name="genre"),
    )
    # Generated posters have no published hashes: only check that each one decodes.
    items, poster_status = screen_posters(
        items, None, "synthetic", fix=f"delete {poster_folder} to have them generated again"
    )
    return Dataset(
        name="synthetic",
        interactions=interactions,
        items=items,
        users=users,
        genres=list(GENRES),
        source=f"make_synthetic(size={size!r}, seed={seed}) -> {poster_folder}",
        extras={
            "planted": planted,
            "config": asdict(config),
            "seed": seed,
            "poster_status": poster_status,
        },
    )


def resolve_config(size: str, overrides: dict) -> SyntheticConfig:
    """The preset for ``size`` with ``overrides`` applied (ValueError for unknown names)."""
    if size not in SIZES:
        raise ValueError(f"synthetic: unknown size {size!r}; choose one of {sorted(SIZES)}")
    allowed = [f.name for f in fields(SyntheticConfig)]
    unknown = sorted(set(overrides) - set(allowed))
    if unknown:
        raise ValueError(f"synthetic: unknown overrides {unknown}; allowed are {allowed}")
    return replace(SIZES[size], **overrides)


def expected_rating(score: np.ndarray, noise_std: float) -> np.ndarray:
    """E[clip(floor(score + noise + 0.5), 1, 5)] for noise ~ N(0, noise_std^2).

    The best possible prediction under squared error: its RMSE is the noise floor.
    """
    from scipy.special import ndtr

    score = np.asarray(score, dtype=np.float64)
    if noise_std == 0:
        return np.clip(np.floor(score + 0.5), 1, 5)
    edges = np.array([-np.inf, 1.5, 2.5, 3.5, 4.5, np.inf])
    probabilities = np.diff(ndtr((edges - score[:, None]) / noise_std), axis=1)
    return probabilities @ np.arange(1.0, 6.0)


def _cache_key(size: str, seed: int, overrides: dict) -> str:
    settings = "".join(f"-{name}={overrides[name]}" for name in sorted(overrides))
    return f"{size}-seed{seed}{settings}-v{GENERATOR_VERSION}"


def _sample_rows(weights: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One column index per row, drawn with probability proportional to the row's weights."""
    cumulative = np.cumsum(weights, axis=1)
    threshold = rng.random(len(weights)) * cumulative[:, -1]
    return (cumulative <= threshold[:, None]).sum(axis=1)


def _genre_transitions(strength: float, rng: np.random.Generator) -> np.ndarray:
    """Row-stochastic genre transitions: a strong successor per genre plus Dirichlet spread."""
    n = len(GENRES)
    order = rng.permutation(n)
    successor = np.empty(n, dtype=np.int64)
    successor[order] = np.roll(order, -1)
    common = np.sqrt(_GENRE_COUNTS) / np.sqrt(_GENRE_COUNTS).sum()
    spread = rng.dirichlet(n * common, size=n)
    return (1 - strength) * spread + strength * np.eye(n)[successor]


def _make_items(
    n_items: int, stationary: np.ndarray, rng: np.random.Generator
) -> tuple[pd.DataFrame, np.ndarray, np.ndarray, np.ndarray]:
    """Item table (without posters), genre weights (rows sum to 1), content scores, hues."""
    n_genres = len(GENRES)
    per_genre = 1 + _apportion(stationary, n_items - n_genres)
    primary = rng.permutation(np.repeat(np.arange(n_genres), per_genre))
    n_extra = rng.choice(3, size=n_items, p=[0.45, 0.4, 0.15])
    keys = rng.random((n_items, n_genres))
    keys[np.arange(n_items), primary] = 2.0  # never an extra genre
    extra_rank = np.argsort(np.argsort(keys, axis=1), axis=1)
    weights = (extra_rank < n_extra[:, None]).astype(np.float64)
    weights[np.arange(n_items), primary] = 2.0
    weights /= weights.sum(axis=1, keepdims=True)
    content = rng.standard_normal((n_items, len(CONTENT)))
    hues = (primary / n_genres + rng.normal(0, 0.012, n_items)) % 1.0

    genre_offsets = rng.normal(0, 12, n_genres)
    runtime = 100 + weights @ genre_offsets + rng.normal(0, 12, n_items)
    year = np.clip(1998 - np.floor(rng.exponential(9, n_items)), 1921, 1998)
    cast, directors = _make_people(weights, rng)
    items = pd.DataFrame(
        {
            "title": _make_titles(n_items, rng),
            "year": pd.array(year.astype(np.int64), dtype="Int64"),
            "genres": [[GENRES[g] for g in np.flatnonzero(row)] for row in weights],
            "plot": _make_plots(weights, content, rng),
            "cast": cast,
            "director": directors,
            "runtime": pd.array(np.clip(np.round(runtime), 60, 220).astype(np.int64), "Int64"),
        },
        index=pd.RangeIndex(1, n_items + 1, name="item"),
    )
    return items, weights, content, hues


def _apportion(shares: np.ndarray, total: int) -> np.ndarray:
    """Integer counts summing to ``total``, proportional to ``shares`` (largest remainder)."""
    quota = shares / shares.sum() * total
    counts = np.floor(quota).astype(np.int64)
    counts[np.argsort(counts - quota)[: total - counts.sum()]] += 1
    return counts


def _make_titles(n_items: int, rng: np.random.Generator) -> list[str]:
    """Distinct titles like "The Crimson Harbor" or "Silent River" (repeats past 3,200)."""
    n_adj, n_noun = len(_TITLE_ADJECTIVES), len(_TITLE_NOUNS)
    space = 2 * n_adj * n_noun
    codes = rng.choice(space, size=n_items, replace=n_items > space)
    pattern, rest = np.divmod(codes, n_adj * n_noun)
    adjective, noun = np.divmod(rest, n_noun)
    return [
        ("The " if p == 0 else "") + f"{_TITLE_ADJECTIVES[a]} {_TITLE_NOUNS[n]}"
        for p, a, n in zip(pattern, adjective, noun, strict=True)
    ]


def _draw_genres(
    weights: np.ndarray, per_item: int, share_in_genre: float, rng: np.random.Generator
) -> np.ndarray:
    """``per_item`` genre draws per item from its genre weights; otherwise -1 (off-genre)."""
    drawn = _sample_rows(np.repeat(weights, per_item, axis=0), rng).reshape(-1, per_item)
    return np.where(rng.random(drawn.shape) < share_in_genre, drawn, -1)


def _make_plots(weights: np.ndarray, content: np.ndarray, rng: np.random.Generator) -> list[str]:
    """Template sentences with genre nouns and content-pole adjectives (module docstring)."""
    n_items = len(weights)
    noun_genre = _draw_genres(weights, _SLOTS_PER_ITEM["noun"], 1 - _GENERIC_NOUN_SHARE, rng)
    noun_word = rng.integers(len(_GENRE_NOUNS[0]), size=noun_genre.shape)  # 8 per genre
    generic_word = rng.integers(len(_GENERIC_NOUNS), size=noun_genre.shape)
    # Adjective pools: 2d + (c_d > 0) for content score d, 6 for the neutral pool.
    pool_weights = np.zeros((n_items, 2 * len(CONTENT) + 1))
    for d in range(len(CONTENT)):
        pool_weights[np.arange(n_items), 2 * d + (content[:, d] > 0)] = np.abs(content[:, d])
    pool_weights[:, -1] = _NEUTRAL_WEIGHT
    n_adj = _SLOTS_PER_ITEM["adj"]
    adj_pool = _sample_rows(np.repeat(pool_weights, n_adj, axis=0), rng).reshape(-1, n_adj)
    adj_word = rng.integers(len(_NEUTRAL_ADJECTIVES), size=adj_pool.shape)  # pools of 6
    templates = np.argsort(rng.random((n_items, len(_TEMPLATES))), axis=1)[:, :_SENTENCES]
    who = rng.integers(len(_WHO), size=(n_items, _SENTENCES))
    where = rng.integers(len(_WHERE), size=(n_items, _SENTENCES))

    adjective_pools = [pool for pair in _CONTENT_ADJECTIVES for pool in pair]
    adjective_pools.append(_NEUTRAL_ADJECTIVES)
    plots = []
    for i in range(n_items):
        words = {
            "noun": iter(
                _GENRE_NOUNS[g][w] if g >= 0 else _GENERIC_NOUNS[x]
                for g, w, x in zip(noun_genre[i], noun_word[i], generic_word[i], strict=True)
            ),
            "adj": iter(
                adjective_pools[p][w] for p, w in zip(adj_pool[i], adj_word[i], strict=True)
            ),
            "who": iter(_WHO[k] for k in who[i]),
            "where": iter(_WHERE[k] for k in where[i]),
        }
        sentences = [_fill(_TEMPLATES[t], words) for t in templates[i]]
        plots.append(" ".join(s[0].upper() + s[1:] for s in sentences))
    return plots


def _fill(template: str, words: dict[str, Iterator[str]]) -> str:
    """Replace each ``{slot}`` of the template by the next word of that slot."""
    return _SLOT.sub(lambda match: next(words[match[1]]), template)


def _make_people(weights: np.ndarray, rng: np.random.Generator) -> tuple[list, list]:
    """Cast lists and directors; person ``g + 18 k`` belongs to genre ``g``."""
    n_genres = len(GENRES)
    n_people = n_genres * (_ACTORS_PER_GENRE + _DIRECTORS_PER_GENRE)
    name_codes = rng.choice(len(_FIRST_NAMES) * len(_LAST_NAMES), n_people, replace=False)
    first, last = np.divmod(name_codes, len(_LAST_NAMES))
    names = [f"{_FIRST_NAMES[f]} {_LAST_NAMES[s]}" for f, s in zip(first, last, strict=True)]

    def pick(per_item: int, per_genre: int, offset: int) -> np.ndarray:
        genre = _draw_genres(weights, per_item, _PERSON_IN_GENRE_SHARE, rng)
        genre = np.where(genre >= 0, genre, rng.integers(n_genres, size=genre.shape))
        return offset + genre + n_genres * rng.integers(per_genre, size=genre.shape)

    actors = pick(max(_CAST_SIZES), _ACTORS_PER_GENRE, 0)
    cast_size = rng.choice(_CAST_SIZES, size=len(weights))
    directors = pick(1, _DIRECTORS_PER_GENRE, n_genres * _ACTORS_PER_GENRE)[:, 0]
    cast = [
        list(dict.fromkeys(names[a] for a in row[:size]))
        for row, size in zip(actors, cast_size, strict=True)
    ]
    return cast, [names[d] for d in directors]


class _Poster(NamedTuple):
    """What one poster shows; colours are RGB in [0, 1]."""

    background: tuple[float, float, float]
    disc: tuple[float, float, float]
    centre: tuple[float, float]  # x, y in pixels
    radius: float
    bands: tuple[tuple[float, float, float], ...]  # bottom up, one per further genre


def _poster_specs(
    weights: np.ndarray, content: np.ndarray, hues: np.ndarray, rng: np.random.Generator
) -> list[_Poster]:
    """Per-item poster layout from genres and content (module docstring, point 4)."""
    from scipy.special import ndtr

    width, _ = POSTER_SIZE
    n_items = len(weights)
    tone, scale, energy = ndtr(content).T  # each in (0, 1)
    saturation, value = 0.45 + 0.5 * energy, 0.3 + 0.65 * tone
    centre_x = width / 2 + rng.uniform(-6, 6, n_items)
    centre_y = 30 + rng.uniform(-6, 6, n_items)
    genre_hues = np.arange(len(GENRES)) / len(GENRES)
    return [
        _Poster(
            background=colorsys.hsv_to_rgb(hues[i], saturation[i], value[i]),
            disc=colorsys.hsv_to_rgb(hues[i], 0.3 * saturation[i], 1.0),
            centre=(centre_x[i], centre_y[i]),
            radius=5 + 20 * scale[i],
            bands=tuple(
                colorsys.hsv_to_rgb(genre_hues[g], 0.85, 0.8)
                for g in np.flatnonzero((row > 0) & (row < row.max()))
            ),
        )
        for i, row in enumerate(weights)
    ]


def _render_poster(poster: _Poster) -> np.ndarray:
    """uint8 pixels (height, width, 3): shaded background, disc, genre bands at the bottom."""
    width, height = POSTER_SIZE
    y, x = np.mgrid[0:height, 0:width]
    shade = 1.0 - 0.3 * y / (height - 1)
    pixels = shade[..., None] * np.asarray(poster.background)
    centre_x, centre_y = poster.centre
    pixels[(x - centre_x) ** 2 + (y - centre_y) ** 2 <= poster.radius**2] = poster.disc
    for k, colour in enumerate(poster.bands):
        pixels[height - _BAND_HEIGHT * (k + 1) : height - _BAND_HEIGHT * k] = colour
    return np.round(pixels * 255).astype(np.uint8)


def _write_posters(posters: list[_Poster], item_ids: pd.Index, folder: Path) -> list[str]:
    """Save each poster as ``<item>.png`` (atomically; existing files are reused)."""
    from PIL import Image

    paths = []
    for item, poster in zip(item_ids, posters, strict=True):
        path = folder / f"{item}.png"
        if not path.exists():
            partial = folder / f".{item}.{os.getpid()}.png.tmp"
            Image.fromarray(_render_poster(poster)).save(partial, format="PNG")
            os.replace(partial, path)
        paths.append(str(path))
    return paths


def _make_users(n_users: int, rng: np.random.Generator) -> pd.DataFrame:
    """Age, gender and occupation with MovieLens-100K-like marginals."""
    counts = np.array(list(_OCCUPATIONS.values()), dtype=np.float64)
    return pd.DataFrame(
        {
            "age": np.clip(np.round(rng.normal(33, 12, n_users)), 7, 73).astype(np.int64),
            "gender": np.where(rng.random(n_users) < 0.71, "M", "F"),
            "occupation": np.array(list(_OCCUPATIONS))[
                rng.choice(len(counts), size=n_users, p=counts / counts.sum())
            ],
        },
        index=pd.RangeIndex(1, n_users + 1, name="user"),
    )


def _standardise(part: np.ndarray) -> np.ndarray:
    return (part - part.mean(axis=0)) / np.maximum(part.std(axis=0), 1e-12)


def _make_factors(
    config: SyntheticConfig,
    genre_weights: np.ndarray,
    content: np.ndarray,
    age: np.ndarray,
    rng: np.random.Generator,
) -> dict[str, np.ndarray]:
    """Planted biases, factors, factor parts and item popularity (arrays by position)."""
    k = config.n_factors
    n_items, n_users = len(genre_weights), len(age)
    genre_vectors = rng.standard_normal((len(GENRES), k))
    content_map = rng.standard_normal((len(CONTENT), k))
    parts = {
        "genre": np.sqrt(config.genre_share) * _standardise(genre_weights @ genre_vectors),
        "content": np.sqrt(config.content_share) * _standardise(content @ content_map),
        "residual": np.sqrt(1 - config.genre_share - config.content_share)
        * _standardise(rng.standard_normal((n_items, k))),
    }
    popularity_z = rng.standard_normal(n_items)
    item_noise = rng.standard_normal(n_items)
    return {
        "item_factor_parts": parts,
        "item_factors": sum(parts.values()),
        "user_factors": rng.normal(0, config.factor_std / np.sqrt(k), (n_users, k)),
        "item_bias": _ITEM_BIAS_STD * (0.5 * popularity_z + np.sqrt(0.75) * item_noise),
        "user_bias": _USER_BIAS_PER_YEAR * (age - 33) + rng.normal(0, _USER_BIAS_STD, n_users),
        "item_popularity": np.exp(config.popularity_spread * popularity_z),
    }


def _make_sequences(
    config: SyntheticConfig,
    transitions: np.ndarray,
    stationary: np.ndarray,
    primary: np.ndarray,
    factors: dict[str, np.ndarray],
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """(user, item) positions in consumption order, user by user (module docstring, 7)."""
    n_users, n_items = config.n_users, config.n_items
    span = config.max_interactions - config.min_interactions
    lengths = config.min_interactions + np.round(span * rng.beta(1.0, 2.0, n_users)).astype(int)
    affinity = factors["item_bias"][None, :] + factors["user_factors"] @ factors["item_factors"].T
    logits = np.log(factors["item_popularity"])[None, :] + config.preference_strength * affinity
    # Floored so that every unseen item stays reachable.
    choice_weights = np.exp(np.maximum(logits - logits.max(axis=1, keepdims=True), -50))

    by_genre = [np.flatnonzero(primary == g) for g in range(len(GENRES))]
    blocks = np.full((len(GENRES), max(map(len, by_genre))), -1)
    for g, members in enumerate(by_genre):
        blocks[g, : len(members)] = members

    seen = np.zeros((n_users, n_items), dtype=bool)
    chosen = np.full((n_users, config.max_interactions), -1)
    first_genre = _sample_rows(np.tile(stationary, (n_users, 1)), rng)
    for step in range(config.max_interactions):
        users = np.flatnonzero(lengths > step)
        if step == 0:
            genre = first_genre
        else:
            genre = _sample_rows(transitions[primary[chosen[users, step - 1]]], rng)
        candidates = blocks[genre]
        available = (candidates >= 0) & ~seen[users[:, None], candidates]
        explore = rng.random(len(users)) < config.exploration
        weights = np.where(
            available & ~explore[:, None], choice_weights[users[:, None], candidates], available
        )
        exhausted = weights.sum(axis=1) == 0
        pick = np.empty(len(users), dtype=np.int64)
        in_genre = np.flatnonzero(~exhausted)
        pick[in_genre] = candidates[in_genre, _sample_rows(weights[in_genre], rng)]
        stuck = users[exhausted]
        pick[exhausted] = _sample_rows(choice_weights[stuck] * ~seen[stuck], rng)
        chosen[users, step] = pick
        seen[users, pick] = True
    user_idx, step_idx = np.nonzero(chosen >= 0)
    return user_idx, chosen[user_idx, step_idx]


def _rate(
    config: SyntheticConfig,
    factors: dict[str, np.ndarray],
    user_idx: np.ndarray,
    item_idx: np.ndarray,
    rng: np.random.Generator,
) -> tuple[pd.DataFrame, np.ndarray]:
    """Interactions (ids from 1, timestamps increasing per user) and their noise-free scores."""
    score = (
        _GLOBAL_MEAN
        + factors["user_bias"][user_idx]
        + factors["item_bias"][item_idx]
        + np.einsum(
            "nk,nk->n", factors["user_factors"][user_idx], factors["item_factors"][item_idx]
        )
    )
    observed = score + rng.normal(0, config.noise, len(score))
    rating = np.clip(np.floor(observed + 0.5), 1, 5).astype(np.float32)

    start = rng.integers(_FIRST_TIMESTAMP, _LAST_START, config.n_users)
    gaps = 1 + np.floor(rng.exponential(_MEAN_GAP_SECONDS, len(user_idx))).astype(np.int64)
    first_of_user = np.r_[True, user_idx[1:] != user_idx[:-1]]
    gaps[first_of_user] = start[user_idx[first_of_user]]
    elapsed = np.cumsum(gaps)
    before_user = (elapsed - gaps)[first_of_user]  # what earlier users contributed
    timestamp = elapsed - before_user[np.cumsum(first_of_user) - 1]
    interactions = pd.DataFrame(
        {
            "user": (user_idx + 1).astype(np.int64),
            "item": (item_idx + 1).astype(np.int64),
            "rating": rating,
            "timestamp": timestamp.astype(np.int64),
        }
    )
    return interactions, score


def _planted_tables(
    factors: dict[str, np.ndarray],
    item_ids: pd.Index,
    user_ids: pd.Index,
    content: np.ndarray,
    transitions: np.ndarray,
) -> dict:
    """The ground truth as id-indexed pandas tables."""

    def by_item(values: np.ndarray) -> pd.DataFrame:
        return pd.DataFrame(values, index=item_ids).add_prefix("f")

    return {
        "user_factors": pd.DataFrame(factors["user_factors"], index=user_ids).add_prefix("f"),
        "item_factors": by_item(factors["item_factors"]),
        "item_factor_parts": {
            name: by_item(part) for name, part in factors["item_factor_parts"].items()
        },
        "user_bias": pd.Series(factors["user_bias"], index=user_ids, name="user_bias"),
        "item_bias": pd.Series(factors["item_bias"], index=item_ids, name="item_bias"),
        "item_popularity": pd.Series(factors["item_popularity"], index=item_ids, name="popularity"),
        "item_content": pd.DataFrame(content, index=item_ids, columns=list(CONTENT)),
        "genre_transitions": pd.DataFrame(transitions, index=list(GENRES), columns=list(GENRES)),
    }
