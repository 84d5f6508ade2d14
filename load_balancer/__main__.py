"""Run the load balancer: ``python -m load_balancer`` (settings from ``MCSIM_LB_*``)."""

from load_balancer.app import create_app
from load_balancer.settings import BalancerSettings
from services.runner import run_service

if __name__ == "__main__":
    run_service(BalancerSettings, create_app)
