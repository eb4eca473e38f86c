"""The platform's edge: nginx in front (config generated from `routes`), a small FastAPI app beside it."""
