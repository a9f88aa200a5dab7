"""Trajectory analysis: pure functions over ``mdtraj.Trajectory`` returning numpy arrays."""
