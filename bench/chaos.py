"""The chaos campaign (issue 13): kills at random moments, then nothing may be lost, broken or leaked.

    .venv/bin/python bench/chaos.py                     # the full run: >= 1,000 ops, >= 50 daemon kills
    .venv/bin/python bench/chaos.py --seed 7 --ops 200 --kills 8 --driver overlay

Prints every round (what was killed, the restart time), each inconsistency,
lost acknowledged operation and leak as it is found, then the summary table;
exits 1 when a target is missed. See ``chaoslib.py`` for what is checked.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from chaoslib import Campaign, Plan, summary  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=13)
    ap.add_argument("--clients", type=int, default=3)
    ap.add_argument("--ops", type=int, default=1000, help="acknowledged operations to reach (target)")
    ap.add_argument("--kills", type=int, default=50, help="daemon SIGKILLs (target)")
    ap.add_argument("--monitor-kills", type=int, default=None, help="monitor SIGKILLs (default: kills/8)")
    ap.add_argument("--spawner-kills", type=int, default=None, help="spawner SIGKILLs (default: kills/8)")
    ap.add_argument("--driver", default="overlay", choices=("vfs", "overlay"))
    ap.add_argument("--verbose", action="store_true", help="also print each operation a kill cut off")
    args = ap.parse_args()
    plan = Plan(seed=args.seed, clients=args.clients, ops=args.ops, daemon_kills=args.kills,
                monitor_kills=args.monitor_kills if args.monitor_kills is not None else max(1, args.kills // 8),
                spawner_kills=args.spawner_kills if args.spawner_kills is not None else max(1, args.kills // 8),
                driver=args.driver, verbose=args.verbose, log=lambda line: print(line, flush=True))
    print(f"chaos: seed {plan.seed}, {plan.clients} clients, {plan.ops} ops, {plan.daemon_kills} daemon kills, "
          f"{plan.monitor_kills} monitor kills, {plan.spawner_kills} spawner kills, driver {plan.driver}", flush=True)
    t0 = time.monotonic()
    campaign = Campaign(plan)
    fig = campaign.run()
    text, ok = summary(fig, plan, time.monotonic() - t0, campaign.daemon.restarts)
    print(text)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
