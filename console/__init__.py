"""The pipeline's web console (issue 15): subjects, candidate checks, drift; read-only."""
