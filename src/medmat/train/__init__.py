"""Training backends behind one small interface (:mod:`medmat.train.interface`), made by
name from the registry in :mod:`medmat.train.backend`."""
