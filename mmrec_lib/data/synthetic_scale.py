"""An ML-20M-shaped synthetic dataset for scale tests (``make_scale_dataset``).

By default it has MovieLens 20M's counts: 138,493 users, 26,744 rated items and 20,000,263
ratings, every user with at least 20, about 144 on average; ``scale_config(fraction)`` (or
the size fields) shrinks it. Unlike :mod:`mmrec_lib.data.synthetic`, which plants rich
structure for a few thousand rows, it is built to be large: vectorised numpy over blocks of
users, working memory (beyond the tables it returns) bounded by the block, no Python loop
over users or interactions. Every draw comes from ``numpy.random.default_rng`` seeded by
``(seed, stage[, block])``, so the same seed gives identical tables.

How it is generated:

1. Items: titles, genres (the synthetic vocabulary), plots, cast, director and runtime from
   :mod:`mmrec_lib.data.synthetic`'s catalogue generator; years 1891-2015, skewed recent.
   No posters (``poster_path`` absent: image features are zero rows with mask False).
   Each item has a popularity weight ``exp(sigma * (z - z_90))``, z standard normal and z_90
   its 90th percentile, with ``sigma = popularity_sigma`` for the top tenth of the items and
   the steeper ``tail_sigma`` below: a log-normal with a long tail of rarely rated items.
2. Users: a taste genre (drawn by genre share) and a history length ``L_u =
   min_history + k * exp(history_sigma * z)``, capped at ``max_history_share`` of the
   catalogue, with ``k`` solved so the lengths add up to ``n_interactions`` exactly (ML-20M:
   median 68, mean 144, longest 9,254).
3. Histories: every item is first given to one user (stratified by history length), so no
   item is left unrated; the rest of each history is a sample without replacement with
   weights ``popularity * exp(taste_strength * genre_weight[taste])`` (successive sampling:
   the first distinct items of a stream of weighted draws, in rounds; users with the longest
   histories, and the rare short ones left after the rounds, by an exponential race over the
   catalogue). Popularity saturates at the top (a user rates an item once). At the default
   size the item counts come out close to ML-20M's (ours / ML-20M's): most-rated item 67,688
   / 67,310, median 21 / 18, items with fewer than 5 ratings 33 % / 31 %.
4. Order and time: a history is in the order it was drawn (popular items first, as at
   MovieLens's sign-up), the items given in step 3 at random places. Timestamps rise strictly
   along it, over a log-normal span of activity between 1995-01-09 and 2015-03-31.
5. Ratings: half stars 0.5-5 with ML-20M's shares, cut at the quantiles of a score
   ``user bias + item bias (grows with popularity) + p_u . q_i + noise`` (p_u and q_i share
   a genre part, so users rate their taste higher).
6. Tag genome (``extras["genome"]``): for the ``genome_items`` most-rated items, ``n_tags``
   relevance scores in (0, 1), ``sigmoid(b_t + x_i . l_t + noise)`` from the item's genres,
   content and factors, as the wide table :func:`mmrec_lib.data.load_tag_genome` returns.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

import numpy as np
import pandas as pd

from mmrec_lib.data.dataset import Dataset
from mmrec_lib.data.synthetic import (
    _CONTENT_ADJECTIVES,
    _GENERIC_NOUNS,
    _GENRE_COUNTS,
    _GENRE_NOUNS,
    GENRES,
    _make_items,
    _standardise,
)

ML_20M = {"n_users": 138_493, "n_items": 26_744, "n_interactions": 20_000_263}
ML_20M_GENOME_ITEMS = 10_381
HALF_STARS = np.arange(1, 11, dtype=np.float32) / 2
ML_20M_RATING_COUNTS = np.array(
    [239_125, 680_732, 279_252, 1_430_997, 883_398, 4_291_193, 2_200_156, 5_561_926,
     1_534_824, 2_898_660]
)  # fmt: skip
"""How many ML-20M ratings are 0.5, 1.0, ..., 5.0 stars (they sum to 20,000,263)."""
FIRST_TIMESTAMP, LAST_TIMESTAMP = 789_652_009, 1_427_784_002  # ML-20M's first and last
_BLOCK_USERS = 2048  # users generated together; fixed, so results never depend on memory
_DRAW_ROUNDS = 3  # rounds of weighted draws before the exponential race finishes a history
_DENSE_SHARE = 1 / 16  # histories longer than this share of the catalogue: exponential race
_DENSE_CELLS = 2**22  # users x items per chunk of the exponential race
_SHARES = {"user": 0.25, "item": 0.2, "factors": 0.15}  # of the rating score's variance
_HEAD_Z = 1.2815515655446004  # the standard normal's 90th percentile: the top tenth of items
_STAGES = ("catalogue", "users", "first-raters", "histories", "genome")


@dataclass(frozen=True)
class ScaleConfig:
    """Sizes and shapes of the generated data (ML-20M's by default; module docstring)."""

    n_users: int = ML_20M["n_users"]
    n_items: int = ML_20M["n_items"]
    n_interactions: int = ML_20M["n_interactions"]
    genome_items: int | None = None
    """Items with a tag genome (the most-rated); None: ML-20M's share, 10,381 of 26,744."""
    n_tags: int = 1_128
    min_history: int = 20
    max_history_share: float = 0.35
    history_sigma: float = 1.38
    popularity_sigma: float = 1.55
    tail_sigma: float = 4.0
    taste_strength: float = 2.0
    n_factors: int = 8

    def __post_init__(self) -> None:
        if self.genome_items is None:
            share = ML_20M_GENOME_ITEMS / ML_20M["n_items"]
            object.__setattr__(self, "genome_items", round(share * self.n_items))
        for field in fields(self):
            value = getattr(self, field.name)
            kind = (int, np.integer) if field.type != "float" else (int, float, np.number)
            if isinstance(value, bool) or not isinstance(value, kind):
                raise ValueError(f"scale: {field.name} must be {field.type}, got {value!r}")
            if value < (0 if field.name == "genome_items" else 1e-12):
                raise ValueError(f"scale: {field.name} must be positive, got {value!r}")
        if self.n_items < len(GENRES):
            raise ValueError(f"scale: n_items must be at least {len(GENRES)} (one per genre)")
        if not 0 < self.max_history_share <= 1:
            raise ValueError(f"scale: max_history_share must lie in (0, 1], got {self}")
        if self.genome_items > self.n_items:
            raise ValueError("scale: genome_items cannot exceed n_items")
        if not self.min_history <= self.longest_history:
            raise ValueError(
                f"scale: min_history={self.min_history} exceeds the longest history allowed, "
                f"{self.longest_history} (max_history_share x n_items)"
            )
        low, high = self.n_users * self.min_history, self.n_users * self.longest_history
        if not low <= self.n_interactions <= high:
            raise ValueError(
                f"scale: {self.n_interactions:,} interactions do not fit {self.n_users:,} users "
                f"with {self.min_history} to {self.longest_history} items each ({low:,} to "
                f"{high:,})"
            )
        if self.n_interactions < 2 * self.n_items:
            raise ValueError("scale: need at least two interactions per item")

    @property
    def longest_history(self) -> int:
        return int(self.max_history_share * self.n_items)


def scale_config(fraction: float = 1.0, **overrides) -> ScaleConfig:
    """ML-20M's config scaled by ``fraction``: users and interactions by ``fraction``, items
    by its square root, so the average history stays 144 items and the matrix's density
    grows only as 1 / sqrt(fraction). ``overrides``: any field."""
    if not 0 < fraction <= 1:
        raise ValueError(f"fraction must lie in (0, 1], got {fraction!r}")
    unknown = sorted(set(overrides) - {f.name for f in fields(ScaleConfig)})
    if unknown:
        raise ValueError(f"scale: unknown settings {unknown}")
    sizes = {
        "n_users": max(1, round(ML_20M["n_users"] * fraction)),
        "n_items": max(len(GENRES), round(ML_20M["n_items"] * np.sqrt(fraction))),
        "n_interactions": round(ML_20M["n_interactions"] * fraction),
    }
    return ScaleConfig(**(sizes | overrides))


def make_scale_dataset(config: ScaleConfig | None = None, seed: int = 0) -> Dataset:
    """Generate the dataset (ML-20M-sized by default; see the module docstring).

    The tag genome is ``extras["genome"]`` (items x tags, float32); ``extras["planted"]``
    holds each item's popularity weight and each user's taste genre.
    """
    config = config or ScaleConfig()
    streams = {stage: _stream(seed, stage) for stage in _STAGES}
    genre_shares = np.sqrt(_GENRE_COUNTS) / np.sqrt(_GENRE_COUNTS).sum()
    items, genre_weights, content, _ = _make_items(
        config.n_items, genre_shares, streams["catalogue"]
    )
    catalogue = streams["catalogue"]
    years = np.clip(2015 - np.floor(catalogue.exponential(14, config.n_items)), 1891, 2015)
    items["year"] = pd.array(years.astype(np.int64), dtype="Int64")
    popularity_z = catalogue.standard_normal(config.n_items)
    genre_vectors = catalogue.standard_normal((len(GENRES), config.n_factors))
    genre_part = _standardise(genre_weights @ genre_vectors)
    own_part = catalogue.standard_normal((config.n_items, config.n_factors))
    item_factors = np.sqrt(0.5) * (genre_part + own_part)
    item_bias = 0.5 * popularity_z + np.sqrt(0.75) * catalogue.standard_normal(config.n_items)

    users = _make_users(config, genre_shares, genre_vectors, streams["users"])
    head = popularity_z - _HEAD_Z  # > 0 for the top tenth of the items
    log_popularity = np.where(head > 0, config.popularity_sigma, config.tail_sigma) * head
    taste_weights = np.exp(
        log_popularity[None, :] + config.taste_strength * genre_weights.T  # (genres, items)
    )
    first_rater = _first_raters(users["length"], config.n_items, streams["first-raters"])
    interactions = _interactions(
        config, seed, users, taste_weights, first_rater, item_factors, item_bias
    )

    counts = np.bincount(interactions["item"].to_numpy(), minlength=config.n_items + 1)[1:]
    item_ids = items.index.to_numpy()
    genome = _genome(
        config,
        item_ids,
        np.hstack([genre_weights, content, item_factors]),
        counts,
        streams["genome"],
    )
    planted = {
        "item_popularity": pd.Series(np.exp(log_popularity), index=items.index, name="popularity"),
        "user_taste": pd.Series(
            np.array(GENRES)[users["taste"]],
            index=pd.RangeIndex(1, config.n_users + 1),
            name="taste",
        ),
    }
    return Dataset(
        name="synthetic-scale",
        interactions=interactions,
        items=items,
        users=pd.DataFrame(index=pd.RangeIndex(1, config.n_users + 1, name="user")),
        genres=list(GENRES),
        source=f"make_scale_dataset({config}, seed={seed})",
        extras={"config": asdict(config), "seed": seed, "genome": genome, "planted": planted},
    )


def _stream(seed: int, stage: str, block: int | None = None) -> np.random.Generator:
    """The generator of one stage (and block of users): independent of every other."""
    key = (_STAGES.index(stage),) if block is None else (_STAGES.index(stage), block)
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=key))


def _make_users(
    config: ScaleConfig, genre_shares: np.ndarray, genre_vectors: np.ndarray, rng
) -> dict[str, np.ndarray]:
    """Per user (by position): history length, taste genre, factors, rating bias, and the
    start and span of activity (seconds)."""
    n_users = config.n_users
    taste = rng.choice(len(GENRES), size=n_users, p=genre_shares)
    own_part = rng.standard_normal((n_users, config.n_factors))
    factors = np.sqrt(0.5) * (_standardise(genre_vectors)[taste] + own_part)
    span = np.exp(rng.normal(np.log(30 * 86_400), 2.0, n_users))
    lengths = history_lengths(config, rng.standard_normal(n_users))
    span = np.clip(span, 60.0 * lengths, LAST_TIMESTAMP - FIRST_TIMESTAMP - lengths - 1)
    latest_start = LAST_TIMESTAMP - span - lengths
    start = FIRST_TIMESTAMP + rng.random(n_users) * (latest_start - FIRST_TIMESTAMP)
    return {
        "length": lengths,
        "taste": taste,
        "factors": factors,
        "bias": rng.standard_normal(n_users),
        "start": np.floor(start).astype(np.int64),
        "span": span,
    }


def history_lengths(config: ScaleConfig, z: np.ndarray) -> np.ndarray:
    """Integer history lengths, one per ``z`` (standard normal scores), that add up to
    ``config.n_interactions``: ``min_history + k * exp(history_sigma * z)`` capped at the
    longest history allowed, ``k`` found by bisection, remainders to the largest fractions."""
    low, cap = config.min_history, config.longest_history
    spread = np.exp(config.history_sigma * (z - z.max()))  # in (0, 1], no overflow

    def lengths(k: float) -> np.ndarray:
        return np.minimum(low + k * spread, cap)

    lower, upper = 0.0, 1.0
    while lengths(upper).sum() < config.n_interactions and upper < 1e18:
        upper *= 2
    for _ in range(200):
        middle = (lower + upper) / 2
        if lengths(middle).sum() < config.n_interactions:
            lower = middle
        else:
            upper = middle
    exact = lengths(upper)
    whole = np.floor(exact).astype(np.int64)
    short = config.n_interactions - int(whole.sum())
    room = np.flatnonzero(whole < cap)
    if short < 0 or short > len(room):
        raise ValueError("scale: cannot apportion the interactions among the users")
    fraction = (exact - whole)[room]
    whole[room[np.argsort(-fraction, kind="stable")[:short]]] += 1
    return whole


def _first_raters(lengths: np.ndarray, n_items: int, rng) -> np.ndarray:
    """For each item, the user who is given it first (so that no item goes unrated): users
    are drawn in proportion to their history length, stratified, so no user gets more
    items than half their history (plus one)."""
    ends = np.cumsum(lengths)
    points = (rng.permutation(n_items) + rng.random(n_items)) * (ends[-1] / n_items)
    return np.searchsorted(ends, points, side="right")


def _interactions(
    config: ScaleConfig,
    seed: int,
    users: dict[str, np.ndarray],
    taste_weights: np.ndarray,
    first_rater: np.ndarray,
    item_factors: np.ndarray,
    item_bias: np.ndarray,
) -> pd.DataFrame:
    """All interactions, user by user in time order, generated in blocks of users."""
    lengths = users["length"]
    offsets = np.concatenate([[0], np.cumsum(lengths)])
    n_rows = int(offsets[-1])
    columns = {
        "user": np.empty(n_rows, np.int64),
        "item": np.empty(n_rows, np.int64),
        "rating": np.empty(n_rows, np.float32),  # the score first, then the stars
        "timestamp": np.empty(n_rows, np.int64),
    }
    cumulative = np.cumsum(taste_weights, axis=1)
    cumulative /= cumulative[:, -1:]
    stacked_cdf = (np.arange(len(taste_weights))[:, None] + cumulative).ravel()
    by_rater = np.argsort(first_rater, kind="stable")
    rater_ends = np.searchsorted(first_rater[by_rater], np.arange(config.n_users + 1))
    for block, start in enumerate(range(0, config.n_users, _BLOCK_USERS)):
        stop = min(start + _BLOCK_USERS, config.n_users)
        rng = _stream(seed, "histories", block)
        given = by_rater[rater_ends[start] : rater_ends[stop]]
        local_user, item = _block_histories(
            lengths[start:stop],
            users["taste"][start:stop],
            first_rater[given] - start,
            given,
            taste_weights,
            stacked_cdf,
            rng,
        )
        user = local_user + start
        rows = slice(offsets[start], offsets[stop])
        columns["user"][rows] = user + 1
        columns["item"][rows] = item + 1
        columns["timestamp"][rows] = _timestamps(users, user, rng)
        score = (
            np.sqrt(_SHARES["user"]) * users["bias"][user]
            + np.sqrt(_SHARES["item"]) * item_bias[item]
            + np.sqrt(_SHARES["factors"] / config.n_factors)
            * np.einsum("nk,nk->n", users["factors"][user], item_factors[item])
            + np.sqrt(1 - sum(_SHARES.values())) * rng.standard_normal(len(item))
        )
        columns["rating"][rows] = score
    columns["rating"] = half_stars(columns["rating"])
    return pd.DataFrame(columns, copy=False)


def half_stars(score: np.ndarray) -> np.ndarray:
    """Ratings 0.5-5 (float32) cut from scores at the quantiles of ML-20M's rating shares."""
    shares = np.cumsum(ML_20M_RATING_COUNTS)[:-1] / ML_20M_RATING_COUNTS.sum()
    edges = np.quantile(score, shares)
    return HALF_STARS[np.searchsorted(edges, score, side="right")]


def _block_histories(
    lengths: np.ndarray,
    taste: np.ndarray,
    given_user: np.ndarray,
    given_item: np.ndarray,
    taste_weights: np.ndarray,
    stacked_cdf: np.ndarray,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """(user, item) positions of a block's histories, user by user in consumption order.

    given_user / given_item: the items the block's users get first (step 3 of the module
    docstring), placed at random in their histories.
    """
    n_users, n_items = len(lengths), taste_weights.shape[1]
    need = lengths - np.bincount(given_user, minlength=n_users)
    chosen = np.sort(given_user * n_items + given_item)
    codes, ranks = [], []
    have = np.zeros(n_users, np.int64)
    dense = lengths > _DENSE_SHARE * n_items
    factor = 1.25
    for _ in range(_DRAW_ROUNDS):
        pending = np.flatnonzero((have < need) & ~dense)
        if not len(pending):
            break
        draws = np.ceil(factor * (need - have)[pending]).astype(np.int64) + 4
        user = np.repeat(pending, draws)
        flat = np.searchsorted(stacked_cdf, taste[user] + rng.random(len(user)), side="right")
        code = user * n_items + np.clip(flat - taste[user] * n_items, 0, n_items - 1)
        fresh = np.zeros(len(code), bool)
        fresh[np.unique(code, return_index=True)[1]] = True  # first draw of each item
        fresh &= ~_contains(chosen, code)
        kept = np.flatnonzero(fresh)
        rank = np.arange(len(kept)) - np.searchsorted(user[kept], user[kept])
        wanted = rank < (need - have)[user[kept]]
        accepted, rank = kept[wanted], rank[wanted]
        codes.append(code[accepted])
        ranks.append(have[user[accepted]] + rank)
        have += np.bincount(user[accepted], minlength=n_users)
        chosen = np.sort(np.concatenate([chosen, code[accepted]]))
        factor *= 2
    finish = np.flatnonzero(have < need)
    rows_per_chunk = max(1, _DENSE_CELLS // n_items)
    for first in range(0, len(finish), rows_per_chunk):
        users = finish[first : first + rows_per_chunk]
        code, rank = _exponential_race(
            users, need[users] - have[users], have[users], taste, taste_weights, chosen, rng
        )
        codes.append(code)
        ranks.append(rank)
    code = np.concatenate([*codes, given_user * n_items + given_item])
    # Place: drawn items by rank, each given item at a uniform place in its user's history.
    position = np.concatenate(
        [*ranks, rng.random(len(given_user)) * (need[given_user] + 1) - 0.5]
    ).astype(np.float64)
    user, item = np.divmod(code, n_items)
    order = np.lexsort((position, user))
    return user[order], item[order]


def _contains(sorted_codes: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """Whether each of ``codes`` is in ``sorted_codes``."""
    if not len(sorted_codes):
        return np.zeros(len(codes), bool)
    where = np.searchsorted(sorted_codes, codes).clip(max=len(sorted_codes) - 1)
    return sorted_codes[where] == codes


def _exponential_race(
    users: np.ndarray,
    short: np.ndarray,
    have: np.ndarray,
    taste: np.ndarray,
    taste_weights: np.ndarray,
    chosen: np.ndarray,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """The next ``short`` items of each user's weighted sample without replacement, and
    their ranks: the items not yet chosen, in increasing order of Exp(1) / weight."""
    n_items = taste_weights.shape[1]
    keys = rng.exponential(size=(len(users), n_items)) / taste_weights[taste[users]]
    taken = chosen[(chosen >= users[0] * n_items) & (chosen < (users[-1] + 1) * n_items)]
    row = np.searchsorted(users, taken // n_items)
    known = users[row.clip(max=len(users) - 1)] == taken // n_items
    keys[row[known], taken[known] % n_items] = np.inf
    order = np.argsort(keys, axis=1)[:, : short.max()]
    rank = np.broadcast_to(np.arange(order.shape[1]), order.shape)
    wanted = rank < short[:, None]
    user = np.broadcast_to(users[:, None], order.shape)[wanted]
    return user * n_items + order[wanted], (have[:, None] + rank)[wanted]


def _timestamps(users: dict, user: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Strictly increasing unix seconds along each history (``user`` sorted, whole users):
    gaps mostly short (a session) with a few long breaks, scaled to the user's span."""
    gap = rng.exponential(size=len(user)) * np.where(rng.random(len(user)) < 0.05, 1.0, 0.01)
    first = np.searchsorted(user, user)  # row where each row's user starts
    elapsed = np.cumsum(gap)
    within = elapsed - (elapsed - gap)[first]  # cumulative gap within the user's history
    total = np.bincount(user - user[0], weights=gap)[user - user[0]]
    step = np.arange(len(user)) - first
    seconds = np.floor(within / total * users["span"][user]).astype(np.int64)
    return users["start"][user] + seconds + step


def _genome(
    config: ScaleConfig,
    item_ids: np.ndarray,
    item_traits: np.ndarray,
    counts: np.ndarray,
    rng: np.random.Generator,
) -> pd.DataFrame:
    """Relevance of ``n_tags`` tags to the ``genome_items`` most-rated items (float32, items
    in id order x tags), as :func:`mmrec_lib.data.load_tag_genome` returns ML-20M's."""
    kept = np.sort(np.argsort(-counts, kind="stable")[: config.genome_items])
    traits = _standardise(item_traits[kept])
    loadings = rng.standard_normal((traits.shape[1], config.n_tags)) * (
        1.5 / np.sqrt(traits.shape[1])
    )
    offsets = rng.normal(-2.2, 0.8, config.n_tags)
    relevance = np.empty((len(kept), config.n_tags), np.float32)
    for start in range(0, len(kept), 4096):
        logits = traits[start : start + 4096] @ loadings + offsets
        logits += rng.normal(0.0, 0.5, logits.shape)
        relevance[start : start + 4096] = 1.0 / (1.0 + np.exp(-logits))
    return pd.DataFrame(
        relevance,
        index=pd.Index(item_ids[kept], name="item"),
        columns=pd.Index(tag_names(config.n_tags), name="tag"),
    )


def tag_names(n_tags: int) -> list[str]:
    """``n_tags`` distinct tag names from the synthetic vocabulary ("grim", "dark robots")."""
    adjectives = [word for pair in _CONTENT_ADJECTIVES for pool in pair for word in pool]
    nouns = [word for row in _GENRE_NOUNS for word in row] + list(_GENERIC_NOUNS)
    words = [genre.lower() for genre in GENRES] + adjectives + nouns
    words += [f"{adjective} {noun}" for adjective in adjectives for noun in nouns]
    names = list(dict.fromkeys(words))
    names += [f"tag {k}" for k in range(len(names), n_tags)]
    return names[:n_tags]
