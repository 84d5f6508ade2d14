"""Transactional message templates: authoring, seeds, preview, proof, publishing, versions."""
