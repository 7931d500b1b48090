"""Progress display for long computations: a tqdm bar in terminals and notebooks.

tqdm (a core dependency) is used through ``tqdm.auto``: a widget in Jupyter when ipywidgets is
installed, otherwise a text bar; on a terminal the bar is written to stderr, so stdout keeps
only the results. A disabled bar costs nothing and prints nothing (pipes, CI logs, ``--quiet``).
"""

from __future__ import annotations

import sys
import warnings
from typing import Any


class ProgressBar:
    """A counter with an optional tqdm bar; ``update`` advances it, ``close`` removes it.

    Parameters
    ----------
    total : the expected number of updates (None when unknown).
    description : the bar's label.
    enabled : draw the bar (False: count silently).
    unit : what one update is ("it", "run", ...).
    """

    def __init__(
        self, total: int | None, description: str, enabled: bool, unit: str = "it"
    ) -> None:
        self.count = 0
        self.bar: Any = None
        if enabled:
            with warnings.catch_warnings():
                # in Jupyter without ipywidgets tqdm.auto warns and falls back to a text bar,
                # which displays fine: the warning would only be noise
                warnings.simplefilter("ignore")
                from tqdm.auto import tqdm

                bar = tqdm(
                    total=total,
                    desc=description,
                    unit=unit,
                    file=sys.stderr,
                    leave=False,
                    dynamic_ncols=True,
                    mininterval=0.2,
                )
            self.bar = bar

    def update(self, label: str | None = None, postfix: str | None = None) -> None:
        """Advance by one; ``label`` replaces the description, ``postfix`` the text after it."""
        self.count += 1
        if self.bar is None:
            return
        if label is not None:
            self.bar.set_description(label, refresh=False)
        if postfix is not None:
            self.bar.set_postfix_str(postfix, refresh=False)
        self.bar.update()

    def returns_callback(self, iteration: int, returns: Any) -> None:
        """``mirror_learning``'s progress callback: the bar shows the latest eta(pi_n)."""
        self.update(postfix=f"eta={float(returns[-1]):.6g}")

    def residual_callback(self, iteration: int, residual: Any) -> None:
        """``solve``'s progress callback: the bar shows the latest residual."""
        self.update(postfix=f"residual={float(residual):.3g}")

    def close(self) -> None:
        """Remove the bar (the final results are printed by the caller)."""
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def progress_bar(
    total: int | None, description: str, enabled: bool, unit: str = "it"
) -> ProgressBar:
    """A :class:`ProgressBar` (drawn only when ``enabled``)."""
    return ProgressBar(total, description, enabled, unit)


def terminal_progress(quiet: bool = False) -> bool:
    """Should a command draw progress? Yes on an interactive stderr, unless ``quiet``."""
    return not quiet and hasattr(sys.stderr, "isatty") and sys.stderr.isatty()
