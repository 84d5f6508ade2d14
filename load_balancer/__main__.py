"""Run the load balancer: ``python -m load_balancer`` (settings from ``MCSIM_LB_*``)."""

from __future__ import annotations

import sys

from pydantic import ValidationError

import services.lean_imports  # noqa: F401 - first: before anything imports httpx
from load_balancer.server import serve
from load_balancer.settings import BalancerSettings
from services.private_files import private_process


def main() -> int:
    """Read the settings from the environment and serve until stopped."""
    private_process()
    try:
        settings = BalancerSettings()
    except ValidationError as exc:
        prefix = BalancerSettings.model_config.get("env_prefix", "")
        print(f"{BalancerSettings.service_name}: invalid settings ({prefix}*):", file=sys.stderr)
        for error in exc.errors():
            name = prefix + "_".join(str(part) for part in error["loc"]).upper()
            print(f"  {name}: {error['msg']}", file=sys.stderr)
        return 2
    return serve(settings)


if __name__ == "__main__":
    sys.exit(main())
