# The course's lines for a teacher's nbgrader_config.py (append them to the file `nbgrader quickstart` writes):
# the cells tagged "solution" (each exercise's collapsed solution) stay out of the student version.
from nbconvert.preprocessors import TagRemovePreprocessor
from nbgrader.converters import GenerateAssignment

c = get_config()  # noqa: F821 -- given by nbgrader when it reads this file
DEFAULT = GenerateAssignment.class_traits()["preprocessors"].default()  # nbgrader's own steps, then the removal
c.GenerateAssignment.preprocessors = [*DEFAULT, TagRemovePreprocessor]
c.TagRemovePreprocessor.remove_cell_tags = ["solution"]
c.TagRemovePreprocessor.enabled = True
