"""Dashboard pages: each composes pure layer builders and cached loaders (``compute, then render``)."""
