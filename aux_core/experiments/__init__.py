"""Paper-specific experiment grids and analyses, one module per paper; notebooks build on them."""
