"""Test support shared by every service: the store and repository contract suite."""
