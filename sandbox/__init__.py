"""Fleetdeck's local AWS peer: moto 5.2.5 extended in-process for ECS Anywhere.

The package is an AWS, not a client of one: it imports nothing from the console.
"""
