"""The core: tasks, models, training, timing and counting. Plain torch and NumPy: no plots, no widgets."""
