"""Finding, describing and splitting image collections."""
