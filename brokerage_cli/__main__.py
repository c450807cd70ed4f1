from brokerage_cli.main import app

app()
