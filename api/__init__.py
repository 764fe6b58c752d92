"""The vcsmatch ranking API and front-door web page (FastAPI)."""
