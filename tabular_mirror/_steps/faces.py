"""Row problems on the feasible faces: each state's simplex is over its feasible actions.

With infeasible actions (``mdp.action_mask``) a state's policy row lives on the face of the
simplex spanned by its feasible actions. States are grouped by their feasibility pattern; for
each pattern the row solver runs on the feasible columns only (an ordinary simplex with fewer
actions) and the answer is scattered back with zeros on the infeasible actions. Every row
solver is thereby exact on the faces without knowing about masks, in both arithmetics; an MDP
without infeasible actions never reaches this module.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from .._exact import ONE, ZERO

#: ((states, columns), ...): the states sharing a feasibility pattern and its feasible columns.
Faces = tuple[tuple[np.ndarray, np.ndarray], ...]


def _faces(mdp: Any) -> Faces:
    mask = mdp.action_mask
    patterns, inverse = np.unique(mask, axis=0, return_inverse=True)
    inverse = np.asarray(inverse).reshape(-1)
    return tuple(
        (np.flatnonzero(inverse == k), np.flatnonzero(pattern))
        for k, pattern in enumerate(patterns)
    )


def mdp_faces(mdp: Any) -> Faces | None:
    """The faces of ``mdp`` (computed once per MDP), or None when every action is feasible."""
    if not mdp.has_infeasible_actions:
        return None
    return mdp._derived_value("faces", _faces)


def on_faces(
    faces: Faces | None,
    solve: Callable[..., tuple[np.ndarray, np.ndarray]],
    policy: np.ndarray,
    advantages: np.ndarray,
    *per_state: Any,
) -> tuple[np.ndarray, np.ndarray]:
    """``solve(policy, advantages, *per_state) -> (rows, gaps)`` on every face.

    ``per_state`` entries that are (S,) arrays are restricted to the face's states; anything
    else is passed unchanged. A face with one feasible action has the single row [1], gap 0.
    """
    if faces is None:
        return solve(policy, advantages, *per_state)
    exact = policy.dtype == object
    num_states = len(policy)
    rows = np.empty(policy.shape, dtype=object) if exact else np.zeros(policy.shape)
    if exact:
        rows.fill(ZERO)
    gaps: np.ndarray | None = None
    for states, columns in faces:
        if len(columns) == 1:
            rows[states, columns[0]] = ONE if exact else 1.0
            part = np.full(len(states), ZERO, dtype=object) if exact else np.zeros(len(states))
        else:
            block = np.ix_(states, columns)
            arguments = [
                value[states]
                if isinstance(value, np.ndarray) and value.shape[:1] == (num_states,)
                else value
                for value in per_state
            ]
            sub_rows, part = solve(policy[block], advantages[block], *arguments)
            rows[block] = sub_rows
        if gaps is None:
            gaps = np.empty(num_states, dtype=np.asarray(part).dtype)
            if gaps.dtype == object:
                gaps.fill(ZERO)
        gaps[states] = part
    return rows, gaps


def restrict(faces: Faces | None, policy: np.ndarray) -> np.ndarray:
    """Entries of ``policy`` on the feasible actions only (flattened), for support checks."""
    if faces is None:
        return np.asarray(policy).ravel()
    return np.concatenate([np.asarray(policy)[np.ix_(s, c)].ravel() for s, c in faces])
