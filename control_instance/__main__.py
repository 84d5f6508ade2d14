"""Run the control instance: ``python -m control_instance`` (settings from ``MCSIM_CONTROL_*``)."""

import services.lean_imports  # noqa: F401 - first: before anything imports httpx
from control_instance.app import create_app
from control_instance.settings import ControlSettings
from services.runner import run_service

if __name__ == "__main__":
    run_service(ControlSettings, create_app)
