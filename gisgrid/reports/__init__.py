"""Read models: the month, grid, year and bulletin as plain data for the pages, the command
line and the exports."""
