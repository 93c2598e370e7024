"""Deployment recipes and their offline checks (`python -m deploy.check`, run by `make deploy-check`)."""
