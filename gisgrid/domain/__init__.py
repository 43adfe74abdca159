"""Pure rules: the rulebook, scoring, sampling, months and the errors a user can cause.
Nothing here imports Flask, SQLAlchemy or GDAL."""
