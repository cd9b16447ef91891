"""The online half: the app factory, the live model state, request contexts and event logging."""
