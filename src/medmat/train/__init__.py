"""Training backends behind one small interface (see :mod:`medmat.train.backend`)."""
