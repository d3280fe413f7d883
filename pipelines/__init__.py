"""The newswire pipeline: source -> parse -> deduplicate -> enrich -> sink, one module a stage."""
