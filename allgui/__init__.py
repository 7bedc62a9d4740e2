"""allgui: build, tune, validate and use a classifier for acute lymphoblastic
leukemia (ALL) in microscope images of blood cells.

Research use only, not for diagnosis.
"""

__version__ = "0.1.0"

RESEARCH_NOTICE = (
    "Research use only, not for diagnosis. allgui's predictions have not been "
    "validated for clinical use and must not guide the care of a patient."
)
