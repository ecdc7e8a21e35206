"""The only place that does I/O while migrating: extract, build, convert, load."""
