"""`brokerage`: the operations team's command line (typer + rich) over the operations API."""
