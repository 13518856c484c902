"""Steps 5-7 of a compile over the drafts of the whole project: deduplicate, sample, split.

Every random choice is a hash of the seed and the item's stable key, never a draw from a shared
generator, so the result does not depend on the order items arrive in.
"""

from __future__ import annotations

import hashlib
from collections import Counter, defaultdict
from collections.abc import Callable, Hashable
from typing import Final

from preflog.compile.options import CompileOptions
from preflog.compile.spill import Draft

_SPAN: Final = float(1 << 64)


def deduplicate(drafts: list[Draft], drops: Counter[str]) -> list[Draft]:
    """Keep the first (in output order) of each identical (prompt, chosen, rejected) triple."""
    seen: set[bytes] = set()
    out: list[Draft] = []
    for draft in sorted(drafts, key=lambda d: d.key):
        if draft.triple in seen:
            drops["duplicate"] += 1
            continue
        seen.add(draft.triple)
        out.append(draft)
    return out


def random_key(draft: Draft, seed: int) -> bytes:
    return hashlib.blake2b(f"{seed}\x00{draft.key}".encode(), digest_size=8).digest()


def _cap(
    drafts: list[Draft],
    group: Callable[[Draft], Hashable | None],
    limit: int,
    order: Callable[[Draft], tuple[float, bytes]],
    reason: str,
    drops: Counter[str],
) -> list[Draft]:
    """Keep at most ``limit`` drafts per group (None: uncapped), the first by ``order``."""
    kept: Counter[Hashable] = Counter()
    keep: set[int] = set()
    for i, draft in sorted(enumerate(drafts), key=lambda t: order(t[1])):
        g = group(draft)
        if g is None or kept[g] < limit:
            kept[g] += 1
            keep.add(i)
        else:
            drops[reason] += 1
    return [d for i, d in enumerate(drafts) if i in keep]


def _balance(
    drafts: list[Draft], side: Callable[[Draft], bool | None], seed: int, reason: str, drops: Counter[str]
) -> list[Draft]:
    """Drop random drafts of the larger side (True/False) until both sides are the same size."""
    sides: dict[bool, list[int]] = defaultdict(list)
    for i, draft in enumerate(drafts):
        s = side(draft)
        if s is not None:
            sides[s].append(i)
    extra = len(sides[True]) - len(sides[False])
    if extra == 0:
        return drafts
    larger = sides[extra > 0]
    doomed = set(sorted(larger, key=lambda i: random_key(drafts[i], seed))[: abs(extra)])
    drops[reason] += len(doomed)
    return [d for i, d in enumerate(drafts) if i not in doomed]


def _chosen_first(draft: Draft) -> bool | None:
    return draft.chosen_first


def _longer(draft: Draft) -> bool | None:
    return None if draft.length_sign == 0 else draft.length_sign > 0


def sample(drafts: list[Draft], opts: CompileOptions, drops: Counter[str]) -> list[Draft]:
    """Caps per prompt and per user, then position and length balance; output order kept."""
    seed = opts.seed

    def order(d: Draft) -> tuple[float, bytes]:
        margin = d.margin
        rank = (margin if margin is not None else float("inf")) if opts.prefer_low_margin else 0.0
        return rank, random_key(d, seed)

    if opts.max_per_prompt is not None:
        drafts = _cap(drafts, lambda d: d.prompt_key, opts.max_per_prompt, order, "max_per_prompt", drops)
    if opts.max_per_user is not None:
        drafts = _cap(drafts, lambda d: d.user_id, opts.max_per_user, order, "max_per_user", drops)
    if opts.balance_position:
        drafts = _balance(drafts, _chosen_first, seed, "balance_position", drops)
    if opts.balance_length:
        drafts = _balance(drafts, _longer, seed, "balance_length", drops)
    return drafts


def split_of(prompt_key: bytes, test_fraction: float) -> str:
    """``test`` for a ``test_fraction`` share of prompts, by the digest of the normalized prompt
    (never seeded: a prompt stays in its split across compiles)."""
    if test_fraction <= 0:
        return "train"
    return "test" if int.from_bytes(prompt_key[:8], "big") / _SPAN < test_fraction else "train"
