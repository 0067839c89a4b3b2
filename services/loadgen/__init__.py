"""A bounded workload generator: concurrent uploads, every answer checked.

`run_load` (runner) drives the uploads; `summarize` (report) turns outcomes into figures,
a rich table and JSON; `load_expectations` reads the `image_name,label` file.
"""

from services.loadgen.expectations import Expectations, load_expectations
from services.loadgen.images import UploadImage, load_images
from services.loadgen.report import Summary, render_summary, summarize
from services.loadgen.runner import LoadConfig, Outcome, run_load

__all__ = [
    "Expectations",
    "LoadConfig",
    "Outcome",
    "Summary",
    "UploadImage",
    "load_expectations",
    "load_images",
    "render_summary",
    "run_load",
    "summarize",
]
