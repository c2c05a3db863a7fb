"""The live interview: consent, the panel's room, join tokens and the candidate's stages."""
