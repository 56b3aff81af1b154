"""Presentation: generic plots, the lessons' figures, and the panels (matplotlib, seaborn, ipywidgets)."""
