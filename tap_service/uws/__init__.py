"""UWS 1.1: the job store, the runner that executes jobs, and the XML documents."""
