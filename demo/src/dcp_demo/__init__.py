"""The demo collection operation of `make run`, through the services' public interfaces only."""
