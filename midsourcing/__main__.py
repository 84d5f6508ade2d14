"""Run the mid-sourcing server: ``python -m midsourcing`` (settings from ``MCSIM_MID_*``)."""

import services.lean_imports  # noqa: F401 - first: before anything imports httpx
from midsourcing.app import create_app
from midsourcing.settings import MidSettings
from services.runner import run_service

if __name__ == "__main__":
    run_service(MidSettings, create_app)
