"""The paper's benchmark: grid definition (``grid``), execution (``runner``), report (``report``)."""
