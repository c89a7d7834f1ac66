from calhousing.cli import app

app()
