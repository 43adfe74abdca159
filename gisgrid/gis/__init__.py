"""GIS input and output: reading and writing layers, CRS, encodings, repair, placing
points on roads, OpenStreetMap, validation of a layer set."""
