"""Reports (报表): one Report per analysis, each served as a page with a chart and a table, an
.xlsx download of the table and an API endpoint. See ``base`` for the shape and ``registry`` for
the list."""
