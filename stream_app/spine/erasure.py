"""Erasing a lead on request: the pure part (docs/operations/personal-data.md, "Erasing a
person"). A lead is named on the erasure list only by its hash; a stage keyed by lead drops
every later event of a listed lead and deletes the state entries whose key names it."""

from __future__ import annotations

import hashlib

HASH_PREFIX = "isales-lead:"


def lead_hash(lead: str) -> str:
    """The lead id as the erasure list and the audit records name it: SHA-256, hex."""
    return hashlib.sha256((HASH_PREFIX + lead).encode()).hexdigest()


def entity_ids(key: str) -> list[str]:
    """The entity id an entity key `e/<group>/<entity>` can name: the part after its last
    `/`, and the half of a key whose group is its entity (a lead's own state, `e/<lead>/<lead>`,
    also when the id holds a `/`)."""
    if not key.startswith("e/"):
        return []
    body = key[2:]
    out = []
    _, sep, last = body.rpartition("/")
    if sep:
        out.append(last)
    half = (len(body) - 1) // 2
    if len(body) % 2 == 1 and body[half] == "/" and body[:half] == body[half + 1 :]:
        out.append(body[:half])
    return out


def erased_entities(keys: list[str], erased: set[str]) -> list[tuple[str, str, str]]:
    """(key, entity id, its hash) of each entity key naming an erased lead."""
    out = []
    for key in keys:
        for entity in entity_ids(key):
            digest = lead_hash(entity)
            if digest in erased:
                out.append((key, entity, digest))
                break
    return out
