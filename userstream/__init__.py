"""The pipeline's entry points that join ops to the native stack (the top layer)."""
