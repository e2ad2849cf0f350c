"""newsbeam's stages: one module per stage, composite PTransforms over plain functions."""
