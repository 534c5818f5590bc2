"""run.py's command line, read before Hydra's parser sees it (no heavy import).

- Options stand anywhere: Hydra's argparse takes no override after an option
  (`run.py task=digits -m 'seed=range(2)'` stops with "unrecognized arguments"), so its options
  are moved in front of the overrides.
- Bad input is one line: the overrides are composed as the sweep's first job with Hydra's compose
  API (its sweeps expanded by Hydra's basic sweeper, the config's `hydra.sweeper.params` included),
  so that an unknown option or key, or a malformed override, is refused before anything starts
  (Hydra would print its own trace and exit 1); a key that does not exist is named with the
  nearest known one. Every job's seed must be an integer (a sweep is refused before its first job).
"""
from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field

from omegaconf import DictConfig, OmegaConf

from ohgw import CONF_DIR
from ohgw.errors import ConfigError
from ohgw.tuner.checks import check_early, check_group_options, check_seed

MULTIRUN = ("-m", "--multirun")
RUN = ("-r", "--run")
NOT_OVERRIDDEN = re.compile(r"Could not override '([^']+)'")


@dataclass
class CommandLine:
    argv: list[str]                 # as Hydra's parser takes it: options first
    multirun: bool = False
    jobs: list[list[str]] = field(default_factory=list)  # each job's overrides, in Hydra's order
    first: DictConfig | None = None  # the first job's config (hydra's included); None when not checked


def read(argv: list[str]) -> CommandLine:
    """The command line with its options first, its jobs and its first job's config; ConfigError
    on bad input. Only Hydra's help and config options (--cfg, -cn, ...) are left to Hydra."""
    options, overrides = split(argv)
    line = CommandLine(argv=options + overrides, multirun=any(o in MULTIRUN for o in options)
                       or "hydra.mode=MULTIRUN" in overrides)
    if any(o not in MULTIRUN + RUN for o in options):
        return line
    check_group_options(overrides, CONF_DIR)
    line.jobs = expand(overrides) if line.multirun else [overrides]
    line.first = compose(line.jobs[0])
    check_early(line.first)  # each job checks itself again; the first one here, before Hydra writes anything
    for job in line.jobs[1:]:  # what can be told from the overrides alone: before the first job runs
        seed = dict(o.lstrip("+").split("=", 1) for o in job if "=" in o).get("seed")
        if seed is not None:
            check_seed(seed)
    return line


def split(argv: list[str]) -> tuple[list[str], list[str]]:
    """(Hydra's options with their values, the overrides), each in the order given."""
    from hydra._internal.utils import get_args_parser

    takes = {s: a.nargs for a in get_args_parser()._actions for s in a.option_strings}
    options, overrides, i = [], [], 0
    while i < len(argv):
        arg = argv[i]
        name = arg.split("=", 1)[0]
        if not arg.startswith("-") or name not in takes:
            overrides.append(arg)
        else:
            options.append(arg)
            has_value = "=" not in arg and i + 1 < len(argv)
            if has_value and (takes[name] is None or (takes[name] == "?" and not _override(argv[i + 1]))):
                i += 1
                options.append(argv[i])
        i += 1
    return options, overrides


def _override(arg: str) -> bool:
    return "=" in arg or arg.startswith(("-", "~"))


def expand(overrides: list[str]) -> list[list[str]]:
    """The jobs of a multirun as the sweeper makes them: the config's `hydra.sweeper.params`
    (composed with the command line's fixed overrides), then the command line, the later of two
    for one key winning, the product, in randomized blocks (ohgw.tuner.run_order) where the
    sweeper is ours."""
    from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
    from hydra.core.override_parser.overrides_parser import OverridesParser

    from ohgw.tuner.run_order import blocked

    parser = OverridesParser.create()
    fixed = [o for o, parsed in zip(overrides, _parse(parser, overrides)) if not parsed.is_sweep_override()]
    sweeper = compose(fixed).hydra.sweeper
    swept = [f"{k}={v}" for k, v in (sweeper.params or {}).items()] + list(overrides)
    (batch,) = BasicSweeper.split_arguments(_parse(parser, swept), None)
    if "block_by" in sweeper:
        return blocked(batch, sweeper.block_by, sweeper.order_seed)
    return [list(job) for job in batch]


def _parse(parser, overrides: list[str]):
    from hydra.errors import HydraException

    try:
        return parser.parse_overrides(overrides)
    except HydraException as e:
        raise ConfigError(one_line(e)) from None


def compose(overrides: list[str]) -> DictConfig:
    """The config these overrides make (Hydra's own part included); ConfigError naming a key
    that does not exist and the nearest one that does."""
    from hydra import compose as hydra_compose, initialize_config_dir
    from hydra.errors import HydraException

    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        try:
            return hydra_compose(config_name="config", overrides=list(overrides), return_hydra_config=True)
        except HydraException as e:
            unknown = NOT_OVERRIDDEN.match(str(e))
            if unknown is None:
                raise ConfigError(one_line(e)) from None
            key = unknown.group(1)  # or where, below it, a dict's entry was not found (budget={epoch: 5})
            key = max(key, str(getattr(e.__cause__, "full_key", None) or key), key=len)
            given = next((o for o in overrides if o.lstrip("+").split("=", 1)[0] == unknown.group(1)), key)
            try:
                known = hydra_compose(config_name="config", overrides=[o for o in overrides if o != given],
                                      return_hydra_config=True)
            except HydraException:
                known = None
            raise ConfigError(f"{given}: no such key{nearest_hint(key, known)}") from None


def nearest_hint(key: str, cfg: DictConfig | None) -> str:
    """'; did you mean budget.epochs?' for budget.epoch: the first part of the key that is not
    there replaced by the closest name at its level; '' when none is close."""
    node = OmegaConf.to_container(cfg, resolve=False) if cfg is not None else None
    parts = key.split(".")
    for i, part in enumerate(parts):
        if not isinstance(node, dict):
            return ""
        if part not in node:
            match = difflib.get_close_matches(part, [str(k) for k in node], n=1, cutoff=0.6)
            return f"; did you mean {'.'.join([*parts[:i], match[0], *parts[i + 1:]])}?" if match else ""
        node = node[part]
    return ""


def one_line(e: Exception) -> str:
    """Hydra's message (several lines, some blank, a link to its docs) as one line, naming the
    override it could not parse."""
    where = f"{e.override}: " if getattr(e, "override", None) else ""
    lines = [line.strip().rstrip(".") for line in str(e).splitlines()
             if line.strip() and not line.startswith("See https://")]
    return where + "; ".join(lines)
