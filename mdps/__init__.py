"""mdps: the catalogue of finite MDPs, generators, the paper's environments, imports, exports.

Every builder returns a validated :class:`tabular_mirror.FiniteMDP`, takes ``discount=`` and,
where the defining numbers are rational, ``exact=`` (Fractions throughout).

Modules
-------
paper        the three environments of Kuba et al. (2022), §7: paper_bandit, paper_chain,
             paper_grid
textbook     small, forest, riverswim, value_polytope, chain, bandit, deep_sea
gridworlds   gridworld (text maps), frozen_lake, cliff_walking, sutton_barto_grid
generators   garnet, random_dense_mdp, exact_garnet, random_exact_mdp (seeded)
importers    from_gymnasium, from_mdptoolbox, from_quantecon, to_mdptoolbox
io           to_csv, from_csv, save, load
references   the catalogue's exact values as data
registry     make("name:key=value,..."), available()
batches      garnet_batch, random_dense_batch, make_batch: batches for tabular_mirror.batch

Examples
--------
>>> import mdps
>>> mdps.make("paper-bandit")
FiniteMDP(num_states=1, num_actions=5, discount=0.0, float, dense)
"""

from . import references
from .batches import garnet_batch, make_batch, random_dense_batch
from .generators import exact_garnet, garnet, random_dense_mdp, random_exact_mdp
from .gridworlds import cliff_walking, frozen_lake, gridworld, sutton_barto_grid
from .importers import from_gymnasium, from_mdptoolbox, from_quantecon, to_mdptoolbox
from .io import from_csv, load, save, to_csv
from .paper import paper_bandit, paper_chain, paper_grid
from .registry import available, make
from .textbook import bandit, chain, deep_sea, forest, riverswim, small, value_polytope

__all__ = [
    "make",
    "available",
    "paper_bandit",
    "paper_chain",
    "paper_grid",
    "small",
    "forest",
    "riverswim",
    "value_polytope",
    "chain",
    "bandit",
    "deep_sea",
    "gridworld",
    "frozen_lake",
    "cliff_walking",
    "sutton_barto_grid",
    "garnet",
    "random_dense_mdp",
    "exact_garnet",
    "random_exact_mdp",
    "from_gymnasium",
    "from_mdptoolbox",
    "from_quantecon",
    "to_mdptoolbox",
    "to_csv",
    "from_csv",
    "save",
    "load",
    "references",
    "garnet_batch",
    "random_dense_batch",
    "make_batch",
]
