"""Server-rendered pages of the contracts app, one module per part."""
