"""Incident mode (应急模式): response plans, raised sensing near an incident, the team's
tasks and timeline, and its CAP 1.2 export."""
