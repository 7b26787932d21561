"""Engine: masking, losses, training, the single ``infer`` step, metrics."""
