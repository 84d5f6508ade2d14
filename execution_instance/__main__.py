"""Run an execution instance: ``python -m execution_instance`` (settings from ``MCSIM_EXEC_*``)."""

import services.lean_imports  # noqa: F401 - first: before anything imports httpx
from execution_instance.app import create_app
from execution_instance.server import serve
from execution_instance.settings import ExecutionSettings
from services.runner import run_service

if __name__ == "__main__":
    run_service(ExecutionSettings, create_app, instance=lambda s: str(s.instance_id), serve=serve)
