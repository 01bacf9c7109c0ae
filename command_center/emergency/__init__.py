"""Emergency mode (应急模式): response plans (plans.py), raised sensing near an emergency
(sensing.py), the modes with their tasks and timeline (service.py), the emergency teams as
people (teams.py), the timeline in words (timeline.py), the handover summary (handover.py)
and the CAP 1.2 export (cap.py). (An "incident" is a detection; an emergency mode may start
from one, whose id it keeps.)"""
