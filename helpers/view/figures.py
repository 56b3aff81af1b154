"""The lessons' figures, one module per lesson beside helpers.lessons: figures_amnesia (notebooks 01, 04, 05),
figures_anatomy (03, 06, 07), figures_learning (09, 10), figures_race (11), figures_scaling (12), figures_language (13).
Each function draws what its lesson measured; colours are arguments or the modules' own constants, nothing changes
helpers.view.plots.COLORS. The notebooks reach them all here: `from helpers.view import figures`."""
from .figures_amnesia import STYLES, plot_gradients, plot_steps, plot_transfer, show_amnesia, show_verdicts
from .figures_anatomy import arc_diagram, draw_chain_and_web, lstm_cell_diagram
from .figures_language import plot_best_epochs, plot_candidates, plot_perplexity, show_showdown
from .figures_learning import plot_filmstrip, plot_learning, show_deep_dive, show_training
from .figures_race import LAYER_COLORS, plot_epoch_seconds, plot_race, plot_ratios
from .figures_scaling import SHORT_NAMES, plot_flops, plot_scaling

__all__ = ["STYLES", "plot_gradients", "plot_steps", "plot_transfer", "show_amnesia", "show_verdicts", "arc_diagram",
           "draw_chain_and_web", "lstm_cell_diagram", "plot_best_epochs", "plot_candidates", "plot_perplexity",
           "show_showdown", "plot_filmstrip", "plot_learning", "show_deep_dive", "show_training", "LAYER_COLORS",
           "plot_epoch_seconds", "plot_race", "plot_ratios", "SHORT_NAMES", "plot_flops", "plot_scaling"]
