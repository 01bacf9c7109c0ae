"""Emergency mode (应急模式): response plans, raised sensing near an emergency, the team's
tasks and timeline, and its CAP 1.2 export. (An "incident" is a detection; an emergency
mode may start from one, whose id it keeps.)"""
